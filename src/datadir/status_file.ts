/**
 * `status.json`: the one status document of a data dir, written only by the process holding the data-dir
 * lock (`run`, or a standalone `drain`, `export` or `upload`), read by everybody else.
 *
 * Why one owner: two writers (the engine and the uploader each had a file) disagreed after restarts and
 * standalone commands never reported at all. The holder starts from the previous document, so lifetime
 * counters (`polls_total`, `sent_total`, worker restarts, ...) carry over restarts and include what standalone
 * commands did; each write is atomic and fsynced (mod.ts), so a power cut leaves the last written document.
 *
 * A reader tells a live but frozen holder (SIGSTOP, a hung event loop) from a working one by `updated_at`:
 * {@link isStale} once the document is older than {@link staleAfterMs} of its own write interval.
 */
import { VERSION } from "../version.ts";
import { dataDirExists, dataDirPaths, readJson, writeJsonAtomic } from "./mod.ts";
import { acquireDataDirLock, DataDirLockedError } from "./lock.ts";

/** The drain progress the uploader of `run` reports for a `drain` request. */
export interface DrainProgress {
  /** The request being served. */
  readonly request_id: string;
  /** True once every record queued before the request's last claim was answered. */
  readonly done: boolean;
  /** Records acknowledged while serving this request (so `drain` need not catch the first write). */
  readonly sent: number;
  /**
   * The non-retryable problem (refused key, bad url, every record refused) met by an attempt made for this
   * request, or null: `drain` stops on it. A problem from before the request is not reported here.
   */
  readonly problem: string | null;
}

/** The uplink part of the document. */
export interface PersistedUplink {
  /** idle, ok, backoff, auth_error, config_error (or none when no uplink is configured). */
  state: string;
  /** Epoch ms of the last acknowledged batch, over all runs. */
  last_success_ts: number | null;
  /** Last failure, one line (never the api key). */
  last_error: string | null;
  /** Records acknowledged by the cloud, over all runs and commands. */
  sent_total: number;
  /** Epoch ms of the next attempt when waiting, else null. */
  next_attempt_ts: number | null;
  /** Drain request progress, when one is being served. */
  drain: DrainProgress | null;
}

/** The per-machine part: the engine's MachineStatus (state, errors, ...); only the counters matter here. */
export interface PersistedMachine {
  /** Machine id. */
  id: string;
  /** Polls over all runs. */
  polls_total: number;
  /** Failed polls over all runs. */
  failures_total: number;
  /** Worker processes recycled, by cause, over all runs. */
  worker_restarts?: Record<string, number>;
}

/** The document. Fields may be added, none renamed. */
export interface StatusDocument {
  /** simco-agent version of the writer. */
  version: string;
  /** Pid of the writer. */
  pid: number;
  /** The writer's command: run, drain, export or upload. */
  command: string;
  /** Epoch ms when the writer started. */
  started_at: number;
  /** Epoch ms of this write. */
  updated_at: number;
  /** How often the writer rewrites the document while it runs (ms). */
  write_interval_ms: number;
  /** The uplink. */
  uplink: PersistedUplink;
  /** One entry per machine the writer knew (a standalone command keeps the previous list). */
  machines: PersistedMachine[];
}

/** How often a holder rewrites the document. */
export const STATUS_INTERVAL_MS = 1_000;

/** Age past which a live holder's document is STALE: five write intervals, at least 10 s. */
export function staleAfterMs(doc: Pick<StatusDocument, "write_interval_ms"> | null): number {
  return Math.max(10_000, 5 * (doc?.write_interval_ms || STATUS_INTERVAL_MS));
}

/** Whether a document written by a live holder is too old to describe it (pure). */
export function isStale(doc: StatusDocument | null, holderAlive: boolean, nowMs: number): boolean {
  if (!holderAlive) return false;
  if (!doc) return false; // a holder that has not written yet is "starting", shown as such
  return nowMs - doc.updated_at > staleAfterMs(doc);
}

/** An empty uplink section. */
export function emptyUplink(): PersistedUplink {
  return {
    state: "idle",
    last_success_ts: null,
    last_error: null,
    sent_total: 0,
    next_attempt_ts: null,
    drain: null,
  };
}

/** Reads the document; null when absent or not a status document. Documents of older versions are upgraded. */
export function readStatusDocument(dataDir: string): StatusDocument | null {
  const v = readJson(dataDirPaths(dataDir).status) as Partial<StatusDocument> | null;
  if (!v || typeof v !== "object" || !Array.isArray(v.machines)) return null;
  return {
    version: typeof v.version === "string" ? v.version : "unknown",
    pid: typeof v.pid === "number" ? v.pid : 0,
    command: typeof v.command === "string" ? v.command : "run",
    started_at: typeof v.started_at === "number" ? v.started_at : 0,
    updated_at: typeof v.updated_at === "number" ? v.updated_at : 0,
    write_interval_ms: typeof v.write_interval_ms === "number" ? v.write_interval_ms : STATUS_INTERVAL_MS,
    uplink: { ...emptyUplink(), ...(v.uplink ?? {}) },
    machines: v.machines.filter((m) => m && typeof m.id === "string").map((m) => ({
      ...m,
      polls_total: Number(m.polls_total) || 0,
      failures_total: Number(m.failures_total) || 0,
    })),
  };
}

/**
 * The lock holder's writer. Construct it right after taking the lock: it reads the previous document
 * ({@link previous}) for the counters to carry on. {@link write} replaces the document; failures are
 * reported through `onProblem` once per episode (a full disk must not add a log line per second).
 */
export class StatusWriter {
  /** The document left by the previous holder, or null. */
  readonly previous: StatusDocument | null;
  /** When this writer started (epoch ms). */
  readonly startedAt: number;
  #failing = false;
  #last: StatusDocument | null = null;
  #chain: Promise<void> = Promise.resolve();

  /**
   * @param dataDir the data dir (its lock must be held by this process)
   * @param command what this process is (run, drain, export, upload)
   * @param onProblem called with an error message when writing starts failing, with null when it works again
   */
  constructor(
    readonly dataDir: string,
    readonly command: string,
    readonly onProblem: (message: string | null) => void = () => {},
    readonly intervalMs = STATUS_INTERVAL_MS,
  ) {
    this.previous = readStatusDocument(dataDir);
    this.startedAt = Date.now();
  }

  /** The last document written (or attempted), or null. */
  get last(): StatusDocument | null {
    return this.#last;
  }

  /** Whether the last write failed. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Resolves when every write asked for so far has finished. */
  flushed(): Promise<void> {
    return this.#chain;
  }

  /** Writes the document built from `parts` (writes are serialised; the newest wins). */
  write(parts: { uplink: PersistedUplink; machines: PersistedMachine[] }): Promise<void> {
    const doc: StatusDocument = {
      version: VERSION,
      pid: Deno.pid,
      command: this.command,
      started_at: this.startedAt,
      updated_at: Date.now(),
      write_interval_ms: this.intervalMs,
      uplink: parts.uplink,
      machines: parts.machines,
    };
    this.#last = doc;
    this.#chain = this.#chain.then(async () => {
      if (this.#last !== doc) return; // a newer document is queued
      try {
        await writeJsonAtomic(dataDirPaths(this.dataDir).status, doc);
        if (this.#failing) this.onProblem(null);
        this.#failing = false;
      } catch (e) {
        if (!this.#failing) this.onProblem(e instanceof Error ? e.message : String(e));
        this.#failing = true;
      }
    });
    return this.#chain;
  }

  /**
   * For a standalone command: the previous document with `sent` more records acknowledged (and the time of
   * the last success), machines unchanged.
   */
  writeUplinkOnly(
    patch: { sent: number; lastSuccessTs: number | null; state?: string; lastError?: string | null },
  ) {
    const prev = this.previous;
    const up = prev?.uplink ?? emptyUplink();
    return this.write({
      uplink: {
        ...up,
        state: patch.state ?? up.state,
        last_error: patch.lastError !== undefined ? patch.lastError : up.last_error,
        sent_total: up.sent_total + patch.sent,
        last_success_ts: patch.lastSuccessTs ?? up.last_success_ts,
        next_attempt_ts: null,
        drain: null,
      },
      machines: prev?.machines ?? [],
    });
  }
}

/** What {@link recordSentAfterwards} did. */
export type RecordedSent = "written" | "no-data-dir" | "held" | "nothing-sent";

/**
 * For `upload`, which works without the data dir: adds `sent` acknowledged records (and now as the last
 * success) to status.json by taking the lock for a moment afterwards, so `upload` never keeps `run` from
 * starting. Nothing is written when `sent` is 0, when the data dir does not exist (not created), or when
 * another process holds it ("held": only the holder writes status.json, and `run`'s own counter does not
 * include these records; the cloud counts them). A failing write goes to `onProblem`.
 */
export async function recordSentAfterwards(
  dataDir: string,
  command: string,
  sent: number,
  onProblem: (message: string) => void,
): Promise<RecordedSent> {
  if (sent <= 0) return "nothing-sent";
  if (!dataDirExists(dataDir)) return "no-data-dir";
  let lock;
  try {
    lock = acquireDataDirLock(dataDir);
  } catch (e) {
    if (e instanceof DataDirLockedError) return "held";
    throw e;
  }
  try {
    const w = new StatusWriter(dataDir, command, (m) => {
      if (m) onProblem(m);
    });
    await w.writeUplinkOnly({ sent, lastSuccessTs: Date.now() });
    return "written";
  } finally {
    lock.release();
  }
}
