/**
 * `export --remove` while `run` holds the data dir: only the running agent may write its buffer, so export
 * hands it the deletion through a request file, the mechanism `drain` uses (src/uplink/drain_request.ts,
 * with the helpers of status_file.ts).
 *
 * Order (a power cut at any moment leaves every record in the buffer, in a complete verified file, or both):
 * export writes the file, fsyncs it, renames it into place, fsyncs the folder, reads it back and verifies
 * it; only then it writes `export-remove-request.json` naming the file and its SHA-256. The agent (it looks
 * once a second) reads the file again, checks its hash against the request, and deletes the records the file
 * lists that are still queued (records in flight stay with the uploader). It answers in
 * `export-remove-answer.json`: `working` when it takes the request up, then `done` or `failed`.
 *
 * When no `run` holds the data dir, export holds the lock itself and calls {@link removeExported} directly.
 */
import { join } from "node:path";
import type { Log } from "../log/mod.ts";
import { readJson, writeJsonAtomicSync } from "../datadir/mod.ts";
import { readExport } from "./export_file.ts";

/** File name of the request in the data dir. */
export const REMOVE_REQUEST_FILE = "export-remove-request.json";
/** File name of the agent's answer in the data dir. */
export const REMOVE_ANSWER_FILE = "export-remove-answer.json";
/** How long export waits for the running agent to take a request up. */
export const REMOVE_PICKUP_MS = 15_000;

const CHUNK = 10_000;
const POLL_MS = 200;

/** A request written by `export --remove`. */
export interface RemoveRequest {
  /** Unique id of this export. */
  readonly id: string;
  /** Process id of export. */
  readonly pid: number;
  /** Absolute path of the verified export file. */
  readonly file: string;
  /** SHA-256 of its records (from its header). */
  readonly sha256: string;
  /** Records in the file. */
  readonly count: number;
}

/** The agent's answer. */
export interface RemoveAnswer {
  /** The request answered. */
  readonly request_id: string;
  /** `working` (taken up), `done` or `failed`. */
  readonly state: "working" | "done" | "failed";
  /** Records deleted from the buffer. */
  readonly removed: number;
  /** Why it failed (one line), or null. */
  readonly error: string | null;
}

/** The part of the buffer removal needs (TelemetryBuffer). */
export interface RemovableQueue {
  /** Deletes queued records by key; returns how many. */
  removeQueued(keys: readonly { ts: number; id: string }[]): number;
}

/**
 * Deletes from `buffer` the queued records listed in the export `file`, after checking that the file is
 * complete and its SHA-256 is `sha256`. Returns how many were deleted (records in flight or already gone
 * are not counted). Throws ExportFileError (file damaged) or Error (hash differs) before deleting anything.
 */
export async function removeExported(buffer: RemovableQueue, file: string, sha256: string): Promise<number> {
  const header = await readExport(file, CHUNK);
  if (header.sha256 !== sha256) {
    throw new Error(`${file} is not the file that was exported (SHA-256 differs); nothing removed`);
  }
  let removed = 0;
  await readExport(file, CHUNK, (batch) => {
    removed += buffer.removeQueued(batch.map((r) => ({ ts: r.ts, id: r.id })));
    return Promise.resolve();
  });
  return removed;
}

/**
 * The running agent's side: serves a pending request once (call it periodically; not re-entrant, the
 * caller keeps one call at a time). Never throws: failures go into the answer and the log.
 */
export async function serveRemoveRequest(dataDir: string, buffer: RemovableQueue, log: Log): Promise<void> {
  const req = readJson(join(dataDir, REMOVE_REQUEST_FILE)) as RemoveRequest | null;
  if (!req || typeof req.id !== "string" || typeof req.file !== "string" || typeof req.sha256 !== "string") {
    return;
  }
  const answered = readJson(join(dataDir, REMOVE_ANSWER_FILE)) as RemoveAnswer | null;
  if (answered?.request_id === req.id) return;
  const answer = (a: Omit<RemoveAnswer, "request_id">) => {
    try {
      writeJsonAtomicSync(join(dataDir, REMOVE_ANSWER_FILE), { request_id: req.id, ...a });
    } catch (e) {
      log.error(`cannot answer the export removal request: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  answer({ state: "working", removed: 0, error: null });
  try {
    const removed = await removeExported(buffer, req.file, req.sha256);
    log.info(`export ${req.file}: removed ${removed} exported record(s) from the buffer`);
    answer({ state: "done", removed, error: null });
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    log.error(`export removal request for ${req.file} failed: ${msg}`);
    answer({ state: "failed", removed: 0, error: msg });
  }
}

/** How a request handed to the running agent ended. */
export type RemoveOutcome =
  | { readonly kind: "done"; readonly removed: number }
  | { readonly kind: "failed" | "no-answer"; readonly error: string }
  | { readonly kind: "agent-exited" };

/**
 * Export's side: writes the request and waits for the agent's answer. `agentRunning` tells when the agent
 * has exited (export then removes the records itself). The request file is removed at the end.
 */
export async function removeViaRunningAgent(
  dataDir: string,
  req: RemoveRequest,
  agentRunning: () => boolean,
  signal: AbortSignal,
): Promise<RemoveOutcome> {
  const path = join(dataDir, REMOVE_REQUEST_FILE);
  writeJsonAtomicSync(path, req);
  const started = Date.now();
  try {
    while (true) {
      const a = readJson(join(dataDir, REMOVE_ANSWER_FILE)) as RemoveAnswer | null;
      const mine = a?.request_id === req.id ? a : null;
      if (mine?.state === "done") return { kind: "done", removed: mine.removed };
      if (mine?.state === "failed") return { kind: "failed", error: mine.error ?? "failed" };
      if (!agentRunning()) return { kind: "agent-exited" };
      if (!mine && Date.now() - started > REMOVE_PICKUP_MS) {
        return {
          kind: "no-answer",
          error: `the running agent did not take up the removal request within ${REMOVE_PICKUP_MS / 1000} s`,
        };
      }
      if (signal.aborted) return { kind: "no-answer", error: "interrupted" };
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    const cur = readJson(path) as RemoveRequest | null;
    if (cur?.id === req.id) {
      try {
        Deno.removeSync(path);
      } catch { /* gone */ }
    }
  }
}
