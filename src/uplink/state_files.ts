/**
 * Small JSON files in the data dir that let other processes see and steer the uploader of `run`:
 *
 * - `uplink-status.json`, written by the uploader (atomically: temp file + rename) on every state change
 *   and at most once a second otherwise; read by `status` and `drain`.
 * - `drain-request.json`, written by `drain` while `run` holds the data dir. The running uploader then
 *   ignores its backoff schedule (Retry-After still honoured) and reports in its status file when the
 *   queue has been emptied. `drain` rewrites the file every second (heartbeat); a request whose heartbeat is
 *   older than {@link DRAIN_REQUEST_STALE_MS} is ignored, so a killed `drain` cannot leave `run` hammering
 *   a failing cloud forever.
 */
import { join } from "node:path";

/** File name of the uploader's status in the data dir. */
export const STATUS_FILE = "uplink-status.json";
/** File name of a drain request in the data dir. */
export const DRAIN_REQUEST_FILE = "drain-request.json";
/** A drain request older than this (no heartbeat) is ignored. */
export const DRAIN_REQUEST_STALE_MS = 5_000;

/** A drain request from the `drain` command. */
export interface DrainRequest {
  /** Unique id of this drain invocation. */
  readonly id: string;
  /** Process id of `drain`. */
  readonly pid: number;
  /** Epoch ms of the last heartbeat. */
  readonly heartbeat_ts: number;
}

/** What the uploader of `run` says about a drain request. */
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

/** The uploader status as persisted for other processes. */
export interface PersistedUplinkStatus {
  /** Uploader state (see UplinkState in mod.ts). */
  readonly state: string;
  /** Epoch ms of the last 2xx. */
  readonly last_success_ts: number | null;
  /** Last problem, one line (never contains the api key). */
  readonly last_error: string | null;
  /** Records acknowledged since the uploader started. */
  readonly sent_total: number;
  /** Epoch ms of the next attempt when waiting, else null. */
  readonly next_attempt_ts: number | null;
  /** Process id of the uploader. */
  readonly pid: number;
  /** Epoch ms of this write. */
  readonly updated_ts: number;
  /** Drain request progress, when one is being served. */
  readonly drain: DrainProgress | null;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, text);
  Deno.renameSync(tmp, path);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return null;
  }
}

/** Writes the uploader status (best effort: a full disk must not stop uploads). */
export function writeUplinkStatus(dataDir: string, status: PersistedUplinkStatus): void {
  try {
    writeAtomic(join(dataDir, STATUS_FILE), JSON.stringify(status));
  } catch {
    // Status is informational; uploads go on.
  }
}

/** Reads the last status written by an uploader on this data dir, or null. */
export function readUplinkStatus(dataDir: string): PersistedUplinkStatus | null {
  const v = readJson(join(dataDir, STATUS_FILE));
  return v && typeof v === "object" && typeof (v as PersistedUplinkStatus).state === "string"
    ? v as PersistedUplinkStatus
    : null;
}

/** Writes (or refreshes the heartbeat of) a drain request. */
export function writeDrainRequest(dataDir: string, req: DrainRequest): void {
  writeAtomic(join(dataDir, DRAIN_REQUEST_FILE), JSON.stringify(req));
}

/** Removes the drain request if it is still ours. */
export function removeDrainRequest(dataDir: string, id: string): void {
  const path = join(dataDir, DRAIN_REQUEST_FILE);
  const cur = readJson(path) as DrainRequest | null;
  if (cur && cur.id !== id) return;
  try {
    Deno.removeSync(path);
  } catch {
    // already gone
  }
}

/** The live drain request, or null when there is none or its heartbeat is stale. */
export function readDrainRequest(dataDir: string, nowMs: number): DrainRequest | null {
  const v = readJson(join(dataDir, DRAIN_REQUEST_FILE)) as DrainRequest | null;
  if (!v || typeof v.id !== "string" || typeof v.heartbeat_ts !== "number") return null;
  if (nowMs - v.heartbeat_ts > DRAIN_REQUEST_STALE_MS) return null;
  return v;
}
