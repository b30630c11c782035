/**
 * Read-only views of a buffer, for `status` and `dead-letters list`: safe while another process runs the
 * agent on the same data directory (WAL readers never block the writer, and these never write).
 */
import { DatabaseSync } from "node:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listDeadLettersIn } from "./store.ts";
import { fileBytes } from "./file_size.ts";
import { BUFFER_FILE, type BufferStats, type DeadLetter } from "./types.ts";
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
