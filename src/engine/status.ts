/**
 * Agent status: what `run` publishes while it works, and what `status` shows.
 *
 * `run` rewrites `<data_dir>/status.json` about once a second (write to a temporary file, then rename, so a reader
 * never sees half a file). `status` combines it with the data-dir lock (is an agent running, which pid) and a
 * read-only look at buffer.db, so it works from another process while `run` is active, and when it is not.
 * Counters (`polls_total`, `failures_total`, `sent_total`) are read back by the next `run`, so they survive restarts.
 */
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import type { MachineSnapshot } from "./supervisor.ts";
import { describePlan } from "../sandbox/confine/plan.ts";

/** Machine fields of `status --json` (names fixed; more may be added, none renamed): the supervisor's snapshot
 * plus the driver name. */
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
  /** Epoch ms of the last acknowledged batch. */
  last_success_ts: number | null;
  /** Last failure, one line (never the api key). */
  last_error: string | null;
  /** Records acknowledged by the cloud, over all runs. */
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
  /** Whether an agent holds the data dir now. */
  running: boolean;
  /** Its pid, or null. */
  pid: number | null;
  /** Buffer counts. */
  buffer: BufferStatusJson;
  /** Uplink state. */
  uplink: UplinkStatusJson;
  /** One entry per configured machine. */
  machines: MachineStatus[];
}

/** What `run` writes to status.json. */
export interface StatusFile {
  /** Pid of the writer. */
  pid: number;
  /** Epoch ms when this run started. */
  started_at: number;
  /** Epoch ms of this write. */
  updated_at: number;
  /** Uplink state. */
  uplink: UplinkStatusJson;
  /** Machines. */
  machines: MachineStatus[];
}

/** Path of the status file in a data dir. */
export function statusPath(dataDir: string): string {
  return join(dataDir, "status.json");
}

/** Writes the status file atomically (temporary file + rename). */
export async function writeStatusFile(dataDir: string, status: StatusFile): Promise<void> {
  const path = statusPath(dataDir);
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(status));
  await Deno.rename(tmp, path);
}

/** Reads the status file; null when absent or unreadable (a status file is a report, never a source of truth). */
export function readStatusFile(dataDir: string): StatusFile | null {
  try {
    const v = JSON.parse(Deno.readTextFileSync(statusPath(dataDir)));
    return v && typeof v === "object" && Array.isArray(v.machines) ? v as StatusFile : null;
  } catch {
    return null;
  }
}

const EMPTY_BUFFER: BufferStatusJson = {
  queued: 0,
  in_flight: 0,
  dead_letter: 0,
  dropped_total: 0,
  oldest_queued_ts: null,
  file_bytes: 0,
};

/**
 * Builds the `status --json` document (pure). Machines missing from the status file are shown as they would start;
 * when no agent runs, every machine is STOPPED and its last known counters are kept.
 */
export function buildStatus(
  config: Config,
  input: { pid: number | null; file: StatusFile | null; buffer: BufferStatusJson | null },
): StatusJson {
  const running = input.pid !== null;
  const fromFile = new Map((input.file?.machines ?? []).map((m) => [m.id, m]));
  const machines = config.machines.map((m): MachineStatus => {
    const known = fromFile.get(m.id);
    const base: MachineStatus = known ? { ...known, driver: m.driver } : {
      id: m.id,
      driver: m.driver,
      state: "STARTING",
      consecutive_failures: 0,
      last_success_ts: null,
      last_error: null,
      next_attempt_ts: null,
      polls_total: 0,
      failures_total: 0,
    };
    return running ? base : { ...base, state: "STOPPED", next_attempt_ts: null };
  });
  const uplink = input.file?.uplink ??
    { state: "idle", last_success_ts: null, last_error: null, sent_total: 0 };
  const idle = config.uplink.url ? "idle" : "none";
  return {
    agent_id: config.agent.id,
    running,
    pid: input.pid,
    buffer: input.buffer ? pickBuffer(input.buffer) : { ...EMPTY_BUFFER },
    uplink: running && config.uplink.url ? uplink : { ...uplink, state: idle },
    machines,
  };
}

function pickBuffer(b: BufferStatusJson): BufferStatusJson {
  const { queued, in_flight, dead_letter, dropped_total, oldest_queued_ts, file_bytes } = b;
  return { queued, in_flight, dead_letter, dropped_total, oldest_queued_ts, file_bytes };
}

/** Formats epoch ms as a short local-independent time (UTC) or "-". */
function when(ts: number | null): string {
  return ts === null ? "-" : new Date(ts).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

/** The human table printed by `status` without `--json`. */
export function formatStatus(s: StatusJson): string {
  const header = ["MACHINE", "DRIVER", "STATE", "FAILS", "POLLS", "LAST OK", "NEXT", "LAST ERROR"];
  const rows = s.machines.map((m) => [
    m.id,
    m.driver,
    m.state,
    String(m.consecutive_failures),
    String(m.polls_total),
    when(m.last_success_ts),
    when(m.next_attempt_ts),
    m.last_error ?? "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Confinement is usually the same for every machine: one line per distinct setting, naming its machines.
  const confinement = new Map<string, string[]>();
  for (const m of s.machines) {
    if (!m.confinement) continue;
    const text = describePlan(m.confinement);
    confinement.set(text, [...confinement.get(text) ?? [], m.id]);
  }
  const confinementLines = [...confinement].map(([text, ids]) =>
    `confinement ${text}${confinement.size > 1 ? ` (${ids.join(", ")})` : ""}`
  );
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  const b = s.buffer;
  return [
    `agent ${s.agent_id}: ${s.running ? `running (pid ${s.pid})` : "not running"}`,
    `buffer: ${b.queued} queued, ${b.in_flight} in flight, ${b.dead_letter} dead letters, ${b.dropped_total} dropped, ` +
    `oldest ${when(b.oldest_queued_ts)}, ${(b.file_bytes / 1048576).toFixed(1)} MiB`,
    s.uplink.state === "none"
      ? "uplink: none (offline; use export)"
      : `uplink: ${s.uplink.state}, ${s.uplink.sent_total} sent, last ok ${when(s.uplink.last_success_ts)}` +
        (s.uplink.last_error ? `, last error: ${s.uplink.last_error}` : ""),
    ...confinementLines,
    "",
    fmt(header),
    ...rows.map(fmt),
    ...s.machines.filter((m) => m.driver_status && Object.keys(m.driver_status).length).map((m) =>
      `${m.id} driver: ` +
      Object.entries(m.driver_status!).map(([k, v]) => `${k}=${v === null ? "-" : String(v)}`).join(", ")
    ),
  ].join("\n");
}
