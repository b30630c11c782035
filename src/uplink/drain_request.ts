/**
 * The drain request: how `drain` steers the uploader of `run` (the status the uploader reports back is part of
 * the data dir's one status document, src/datadir/status_file.ts, written by `run` as the lock holder).
 *
 * `drain-request.json` is written by `drain` while `run` holds the data dir. The running uploader then
 * ignores its backoff schedule (Retry-After still honoured) and reports in status.json (`uplink.drain`) when
 * the queue has been emptied. `drain` rewrites the file every second (heartbeat); a request whose heartbeat is
 * older than {@link DRAIN_REQUEST_STALE_MS} is ignored, so a killed `drain` cannot leave `run` hammering a
 * failing cloud forever.
 */
import { dataDirPaths, readJson, writeJsonAtomicSync } from "../datadir/mod.ts";

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

/** Writes (or refreshes the heartbeat of) a drain request. */
export function writeDrainRequest(dataDir: string, req: DrainRequest): void {
  writeJsonAtomicSync(dataDirPaths(dataDir).drainRequest, req);
}

/** Removes the drain request if it is still ours. */
export function removeDrainRequest(dataDir: string, id: string): void {
  const path = dataDirPaths(dataDir).drainRequest;
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
  const v = readJson(dataDirPaths(dataDir).drainRequest) as DrainRequest | null;
  if (!v || typeof v.id !== "string" || typeof v.heartbeat_ts !== "number") return null;
  if (nowMs - v.heartbeat_ts > DRAIN_REQUEST_STALE_MS) return null;
  return v;
}
