/**
 * The durable store-and-forward buffer (`<data_dir>/buffer.db`). See docs/buffer.md for the guarantees.
 *
 * - {@link TelemetryBuffer}: open, enqueue (group-committed), claim (or claimRaw) / ack / nack / deadLetter,
 *   stats.
 * - {@link acquireDataDirLock} / {@link lockHolder}: one agent per data directory.
 * - {@link readBufferStats} / {@link readDeadLetters} / {@link readSnapshot}: read-only views, safe while
 *   another process runs.
 */
export { TelemetryBuffer } from "./buffer.ts";
export {
  BUFFER_FILE,
  type BufferOptions,
  type BufferStats,
  type ClaimedRecord,
  type DeadLetter,
  type RawClaimedRecord,
} from "./types.ts";
export { fileBytes } from "./file_size.ts";
export {
  BufferClosedError,
  BufferFullError,
  BufferSchemaTooNewError,
  BufferUnavailableError,
  DataDirLockedError,
} from "./errors.ts";
export { acquireDataDirLock, type DataDirLock, lockHolder } from "../datadir/lock.ts";
export {
  readBufferStats,
  readDeadLetters,
  readSnapshot,
  type SnapshotMark,
  type SnapshotResult,
} from "./read_only.ts";
export { SCHEMA_VERSION } from "./schema.ts";
