/** The public shapes of the buffer: options, claimed records, stats, dead letters. */
import type { Log } from "../log/mod.ts";
import type { IdentifiedRecord, SerializedRecord } from "../record/shape.ts";

/** The file name of the buffer inside the data directory (the layout lives in src/datadir/mod.ts). */
export { BUFFER_FILE } from "../datadir/mod.ts";

/** Options of {@link TelemetryBuffer.open}. */
export interface BufferOptions {
  /** Cap on queued records (`buffer.max_records`). */
  maxRecords: number;
  /** What happens at the cap (`buffer.when_full`). */
  whenFull: "drop_oldest" | "stop_polling";
  /** Where buffer events are logged (default: the `simco.buffer` logger). */
  log?: Log;
  /** Longest time a record waits in memory before its group commit (default 100 ms). */
  commitIntervalMs?: number;
  /** Records that trigger a group commit at once (default 1000). */
  commitMaxRecords?: number;
  /** Records kept in memory while storage is failing (default 10 x commitMaxRecords). */
  maxPendingRecords?: number;
  /** Longest wait between commit retries while storage is failing (default 5000 ms). */
  retryMaxMs?: number;
  /** Caps the file at this many pages (SQLite `max_page_count`): a hard quota; tests use it to fill the "disk". */
  maxPageCount?: number;
  /**
   * When `PRAGMA quick_check` runs: `background` (default) in a worker right after open, so startup does not
   * wait for a read of the whole file; `blocking` inside open.
   */
  quickCheck?: "background" | "blocking";
  /** Clock for enqueue and dead-letter times (default Date.now). */
  now?: () => number;
}

/** A record handed to the uplink by {@link TelemetryBuffer.claim}. */
export interface ClaimedRecord extends IdentifiedRecord {
  /** Failed delivery attempts so far (nacks). */
  readonly attempts: number;
}

/**
 * A claimed record with its metrics as the JSON text stored in the buffer ({@link TelemetryBuffer.claimRaw}):
 * exactly `JSON.stringify(metrics)` of the record as enqueued, so the uplink splices it into a request body
 * without parsing it.
 */
export interface RawClaimedRecord extends SerializedRecord {
  /** Failed delivery attempts so far (nacks). */
  readonly attempts: number;
}

/** Counts and sizes of a buffer. */
export interface BufferStats {
  /** Records waiting for upload (committed). */
  queued: number;
  /** Records claimed by the uplink and not yet acked or nacked. */
  in_flight: number;
  /** Records the cloud rejected, kept in the dead_letter table. */
  dead_letter: number;
  /** Records deleted by when_full = drop_oldest, ever (persisted). */
  dropped_total: number;
  /** Enqueued records that were already in the buffer, ever (persisted). */
  duplicates_total: number;
  /** `ts` of the oldest queued record (enqueue order), or null. */
  oldest_queued_ts: number | null;
  /** Size of buffer.db plus its WAL, in bytes. */
  file_bytes: number;
  /** Records in memory waiting for their commit (0 from readBufferStats). */
  pending: number;
  /** The storage error of the current failure episode, or null while storage works. */
  storage_error: string | null;
}

/** One dead letter, as listed by the CLI: the record (metrics as the stored JSON text) and why it failed. */
export interface DeadLetter extends Omit<IdentifiedRecord, "metrics"> {
  /** Metrics as stored (JSON text). */
  metrics: string;
  /** Delivery attempts before rejection. */
  attempts: number;
  /** Why the cloud rejected it. */
  reason: string;
  /** When it was dead-lettered, epoch ms. */
  dead_at: number;
}
