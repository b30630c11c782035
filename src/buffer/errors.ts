/**
 * Errors of the buffer, and the classification of SQLite failures.
 *
 * `node:sqlite` reports every SQLite failure as an `Error` with `code: "ERR_SQLITE_ERROR"` and SQLite's own
 * message text (sqlite3_errmsg), without the numeric result code. The messages below are SQLite's fixed
 * texts for each primary result code, so classifying by text is as stable as SQLite itself.
 */

export { DataDirLockedError } from "../datadir/lock.ts";

/** The buffer file was written by a newer simco-agent (higher schema version): refused, left untouched. */
export class BufferSchemaTooNewError extends Error {
  override name = "BufferSchemaTooNewError";
}

/** A record could not be accepted because the buffer is at its hard capacity (stop_polling ignored). */
export class BufferFullError extends Error {
  override name = "BufferFullError";
}

/**
 * A record could not be made durable: storage has been failing (disk full, read-only, I/O error) and the
 * bounded in-memory backlog is full, or the buffer was closed while storage was still failing. The record
 * was never reported as buffered.
 */
export class BufferUnavailableError extends Error {
  override name = "BufferUnavailableError";
}

/** The buffer was used after {@link TelemetryBuffer.close}. */
export class BufferClosedError extends Error {
  override name = "BufferClosedError";
}

/** How a SQLite failure is handled. */
export type FailureKind = "storage" | "corrupt" | "busy" | "other";

/**
 * Classifies a SQLite error: `storage` (disk full, read-only, I/O error: retry later), `corrupt` (malformed
 * image, not a database: move aside), `busy` (another connection holds a lock), `other` (a bug or misuse).
 */
export function classifySqliteError(e: unknown): FailureKind {
  if (e instanceof BufferUnavailableError) return "storage";
  const msg = e instanceof Error ? e.message.toLowerCase() : String(e).toLowerCase();
  if (
    msg.includes("database or disk is full") || msg.includes("disk i/o error") ||
    msg.includes("readonly database") || msg.includes("read-only") ||
    msg.includes("unable to open database") ||
    msg.includes("no space left") || msg.includes("database table is locked")
  ) return "storage";
  if (msg.includes("malformed") || msg.includes("file is not a database") || msg.includes("corrupt")) {
    return "corrupt";
  }
  if (msg.includes("database is locked") || msg.includes("busy")) return "busy";
  return "other";
}

/** The message of an unknown thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
