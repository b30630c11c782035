/**
 * Agent status: what `status` shows, built (purely) from the data dir's one status document
 * (src/datadir/status_file.ts, written by the lock holder), the lock (is a holder alive, which pid) and a
 * read-only look at buffer.db, so it works from another process while `run` is active, and when it is not.
 *
 * STALE: a live holder whose document is older than a few write intervals (frozen by SIGSTOP, a hung event
 * loop, a disk that refuses the write) is shown as such instead of "running, all OK".
 */
import type { Config } from "../config/types.ts";
import { isStale, type StatusDocument } from "../datadir/status_file.ts";
import type { MachineSnapshot } from "./supervisor.ts";

/** Machine fields of `status --json` (names fixed; more may be added, none renamed): the supervisor's snapshot
 * plus the driver name and the worker figures. */
export type MachineStatus = MachineSnapshot & {
  /** Driver name. */
  driver: string;
  /** OS confinement of the machine's worker process (src/sandbox/confine), as the running agent applies it. */
  confinement?: ConfinementStatus;
  /**
   * What the machine's driver last reported about itself (e.g. the MTConnect driver's clock skew and gap
   * counts; drivers/<name>/README.md); absent for drivers that report nothing.
   */
  driver_status?: Readonly<Record<string, string | number | boolean | null>>;
  /** Worker processes recycled, by cause (timeout, crash, memory, ...), over all runs. */
  worker_restarts: Record<string, number>;
  /** Failed polls by cause, over all runs (their sum is failures_total from this version on). */
  failures_by_cause: Record<string, number>;
  /** Resident memory of the current worker process (bytes), when known. */
  worker_memory_bytes: number | null;
};

/** `confinement` of a machine in `status --json`. */
export interface ConfinementStatus {
  /** `[agent] confinement`: strict, best_effort or off. */
  mode: string;
  /** Protections applied to every worker of the machine (no_new_privs, landlock_fs, seccomp, ...). */
  active: string[];
  /** What is not enforced, each with the reason. */
  missing: string[];
}

/** Uplink fields of `status --json`. */
export interface UplinkStatusJson {
  /** idle, ok, backoff, auth_error, config_error, or none (no `[uplink]`: offline, records leave by export). */
  state: string;
  /** Epoch ms of the last acknowledged batch, over all runs. */
  last_success_ts: number | null;
  /** Last failure, one line (never the api key). */
  last_error: string | null;
  /** Records acknowledged by the cloud, over all runs and commands. */
  sent_total: number;
}

/** Buffer fields of `status --json`. */
export interface BufferStatusJson {
  /** Records waiting for upload. */
  queued: number;
  /** Records being sent. */
  in_flight: number;
  /** Records the cloud rejected. */
  dead_letter: number;
  /** Records dropped because the buffer was full. */
  dropped_total: number;
  /** Epoch ms of the oldest queued record. */
  oldest_queued_ts: number | null;
  /** Size of buffer.db (and its WAL) in bytes. */
  file_bytes: number;
}

/** The exact shape printed by `status --json`. */
export interface StatusJson {
  /** Agent id. */
  agent_id: string;
  /** The data dir. */
  data_dir: string;
  /** False when the data dir does not exist (no agent ever ran with this config). */
  data_dir_exists: boolean;
  /** Whether a process holds the data dir now. */
  running: boolean;
  /** Its pid, or null. */
  pid: number | null;
  /** What holds it (run, drain, export, upload), or null. */
  command: string | null;
  /** The holder is alive but its status document is old: the figures below may be out of date. */
  stale: boolean;
  /** Version of the last writer of the status document, or null. */
  version: string | null;
  /** Epoch ms when the holder started (or the last one did), or null. */
  started_at: number | null;
  /** Epoch ms of the status document, or null. */
  updated_at: number | null;
  /** Buffer counts. */
  buffer: BufferStatusJson;
  /** Uplink state. */
  uplink: UplinkStatusJson;
  /** One entry per configured machine. */
  machines: MachineStatus[];
}

const EMPTY_BUFFER: BufferStatusJson = {
  queued: 0,
  in_flight: 0,
  dead_letter: 0,
  dropped_total: 0,
  oldest_queued_ts: null,
  file_bytes: 0,
};

/** What {@link buildStatus} combines. */
export interface StatusInput {
  /** The lock holder's pid, or null. */
  pid: number | null;
  /** The status document, or null. */
  file: StatusDocument | null;
  /** Read-only buffer figures, or null when there is no buffer. */
  buffer: BufferStatusJson | null;
  /** Whether the data dir exists. */
  dataDirExists: boolean;
  /** Now (epoch ms). */
  now: number;
}

/**
 * Builds the `status --json` document (pure). Machines missing from the status file are shown as they would start;
 * when no agent runs, every machine is STOPPED and its last known counters are kept. A standalone command
 * (drain, export) holds the data dir without polling: machines are STOPPED then too.
 */
export function buildStatus(config: Config, input: StatusInput): StatusJson {
  const running = input.pid !== null;
  const file = input.file;
  const polling = running && (file?.command ?? "run") === "run";
  const fromFile = new Map((file?.machines ?? []).map((m) => [m.id, m as unknown as Partial<MachineStatus>]));
  const machines = config.machines.map((m): MachineStatus => {
    const known = fromFile.get(m.id);
    const base: MachineStatus = {
      id: m.id,
      driver: m.driver,
      state: "STARTING",
      consecutive_failures: 0,
      last_success_ts: null,
      last_error: null,
      next_attempt_ts: null,
      polls_total: 0,
      failures_total: 0,
      worker_restarts: {},
      failures_by_cause: {},
      worker_memory_bytes: null,
      ...known,
    };
    base.driver = m.driver;
    return polling ? base : { ...base, state: "STOPPED", next_attempt_ts: null, worker_memory_bytes: null };
  });
  const up = file?.uplink;
  const uplink: UplinkStatusJson = {
    state: up?.state ?? "idle",
    last_success_ts: up?.last_success_ts ?? null,
    last_error: up?.last_error ?? null,
    sent_total: up?.sent_total ?? 0,
  };
  const idle = config.uplink.url ? "idle" : "none";
  return {
    agent_id: config.agent.id,
    data_dir: config.agent.dataDir,
    data_dir_exists: input.dataDirExists,
    running,
    pid: input.pid,
    command: running ? file?.command ?? null : null,
    stale: isStale(file, running, input.now),
    version: file?.version ?? null,
    started_at: file?.started_at ?? null,
    updated_at: file?.updated_at ?? null,
    buffer: input.buffer ? pickBuffer(input.buffer) : { ...EMPTY_BUFFER },
    uplink: running && config.uplink.url ? uplink : { ...uplink, state: idle },
    machines,
  };
}

function pickBuffer(b: BufferStatusJson): BufferStatusJson {
  const { queued, in_flight, dead_letter, dropped_total, oldest_queued_ts, file_bytes } = b;
  return { queued, in_flight, dead_letter, dropped_total, oldest_queued_ts, file_bytes };
}
