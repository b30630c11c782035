/**
 * `uplink-status.json` in the data dir: written by the uploader of `run` (atomically: temp file + rename) on
 * every state change and at most once a second otherwise; read by `status` and `drain` in other processes.
 * While `run` serves a drain request (drain_request.ts) the status says how far it got.
 */
import { join } from "node:path";

/** File name of the uploader's status in the data dir. */
export const STATUS_FILE = "uplink-status.json";
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

/** Writes `text` to `path` atomically (temp file + rename), so a reader never sees half a file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, text);
  Deno.renameSync(tmp, path);
}

/** The parsed JSON in `path`, or null when it is missing or not JSON. */
export function readJson(path: string): unknown {
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
