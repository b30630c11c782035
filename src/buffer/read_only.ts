/**
 * Read-only views of a buffer, for `status`, `dead-letters list` and `export`: safe while another process
 * runs the agent on the same data directory (WAL readers never block the writer, and these never write).
 */
import { DatabaseSync } from "node:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listDeadLettersIn } from "./store.ts";
import { fileBytes } from "./file_size.ts";
import { BUFFER_FILE, type BufferStats, type DeadLetter, type RawClaimedRecord } from "./types.ts";
import { refuseNewer } from "./schema.ts";

function openReadOnly(dataDir: string): DatabaseSync | null {
  const path = join(dataDir, BUFFER_FILE);
  if (!existsSync(path)) return null;
  const db = new DatabaseSync(path, { readOnly: true });
  db.exec("PRAGMA busy_timeout = 5000");
  try {
    refuseNewer(db, path);
    // A file being created by its first open has no tables yet: nothing to read.
    if (!db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'telemetry_buffer'").get()) {
      db.close();
      return null;
    }
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/**
 * Counts and sizes of `<dataDir>/buffer.db`, read-only; null when there is no buffer yet. Throws SQLite's
 * error for a damaged file and BufferSchemaTooNewError for a newer one.
 */
export function readBufferStats(dataDir: string): BufferStats | null {
  const db = openReadOnly(dataDir);
  if (!db) return null;
  try {
    // count(*) walks the smallest index; the in-flight count uses the partial index (a few rows).
    const total = Number((db.prepare("SELECT count(*) AS n FROM telemetry_buffer").get() as { n: number }).n);
    const f = Number(
      (db.prepare("SELECT count(*) AS n FROM telemetry_buffer WHERE state = 'in_flight'").get() as {
        n: number;
      }).n,
    );
    const counts = { q: total - f, f };
    const hasDead = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'dead_letter'").get() !== undefined;
    const dead = hasDead
      ? Number((db.prepare("SELECT count(*) AS n FROM dead_letter").get() as { n: number }).n)
      : 0;
    const meta = (k: string) => {
      const r = db.prepare("SELECT value FROM meta WHERE key = ?").get(k) as { value: string } | undefined;
      return r ? Number(r.value) : 0;
    };
    const oldest = db.prepare(
      "SELECT ts FROM telemetry_buffer WHERE state = 'queued' ORDER BY seq LIMIT 1",
    ).get() as { ts: number } | undefined;
    return {
      queued: Number(counts.q),
      in_flight: Number(counts.f),
      dead_letter: dead,
      dropped_total: meta("dropped_total"),
      duplicates_total: meta("duplicates_total"),
      oldest_queued_ts: oldest ? Number(oldest.ts) : null,
      file_bytes: fileBytes(join(dataDir, BUFFER_FILE)),
      pending: 0,
      storage_error: null,
    };
  } finally {
    db.close();
  }
}

/** The dead letters of `<dataDir>/buffer.db`, oldest first, read-only; [] when there is no buffer file. */
export function readDeadLetters(dataDir: string, limit = Number.MAX_SAFE_INTEGER): DeadLetter[] {
  const db = openReadOnly(dataDir);
  if (!db) return [];
  try {
    const hasDead = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'dead_letter'").get() !== undefined;
    return hasDead ? listDeadLettersIn(db, limit) : [];
  } finally {
    db.close();
  }
}

/** The newest row of a snapshot: where the next `export --since-last` starts (see {@link readSnapshot}). */
export interface SnapshotMark {
  /** Its seq (enqueue order). */
  readonly seq: number;
  /** Its record id: tells whether the row at `seq` is still the same record. */
  readonly id: string;
  /** Epoch ms taken just before the snapshot began. */
  readonly ts: number;
}

/** What {@link readSnapshot} read. */
export interface SnapshotResult {
  /** Records handed to `onChunk`. */
  readonly count: number;
  /** The newest row of the whole snapshot (exported now or earlier), or null for an empty table. */
  readonly mark: SnapshotMark | null;
}

const SNAPSHOT_CHUNK = 10_000;

/**
 * Reads the records of `<dataDir>/buffer.db` (queued and in flight, in enqueue order) in ONE read
 * transaction, so every chunk comes from the same consistent snapshot while another process keeps writing.
 * Dead letters are not included.
 *
 * `since` (the mark of an earlier snapshot) limits it to rows that snapshot did not contain. A rowid is
 * max + 1, so while the mark's row is still there (same seq, same id) every newer row has a larger seq.
 * Once that row is gone (uploaded, removed, dropped) a new row may reuse a smaller seq; then rows enqueued
 * at or after the mark's time count as new too (a few may be exported twice, which the cloud deduplicates;
 * a clock set back past the mark's time could hide one: docs/offline-transfer.md).
 */
export function readSnapshot(
  dataDir: string,
  since: SnapshotMark | null,
  onChunk: (records: RawClaimedRecord[]) => void,
): SnapshotResult {
  const ts = Date.now();
  const db = openReadOnly(dataDir);
  if (!db) return { count: 0, mark: null };
  try {
    db.exec("BEGIN");
    const newest = db.prepare("SELECT seq, id FROM telemetry_buffer ORDER BY seq DESC LIMIT 1").get() as
      | { seq: number; id: string }
      | undefined;
    let fromSeq = -1;
    let newerThan = Number.MAX_SAFE_INTEGER;
    if (since) {
      fromSeq = since.seq;
      const row = db.prepare("SELECT id FROM telemetry_buffer WHERE seq = ?").get(since.seq) as
        | { id: string }
        | undefined;
      if (row?.id !== since.id) newerThan = since.ts;
    }
    const page = db.prepare(
      "SELECT seq, id, machine_id, ts, metrics AS metricsJson, attempts FROM telemetry_buffer " +
        "WHERE seq > ? AND (seq > ? OR enqueued_at >= ?) ORDER BY seq LIMIT ?",
    );
    let count = 0;
    let cursor = -1;
    while (true) {
      const rows = page.all(cursor, fromSeq, newerThan, SNAPSHOT_CHUNK) as unknown as (RawClaimedRecord & {
        seq: number;
      })[];
      if (!rows.length) break;
      cursor = Number(rows[rows.length - 1].seq);
      count += rows.length;
      onChunk(rows.map((r) => ({ ...r, ts: Number(r.ts), attempts: Number(r.attempts) })));
      if (rows.length < SNAPSHOT_CHUNK) break;
    }
    db.exec("COMMIT");
    return { count, mark: newest ? { seq: Number(newest.seq), id: newest.id, ts } : null };
  } finally {
    db.close();
  }
}
