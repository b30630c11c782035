/**
 * The buffer's on-disk layout and its forward migrations.
 *
 * The schema version lives in `PRAGMA user_version`. A newer simco-agent migrates an older file forward in
 * one transaction per step; an older simco-agent refuses a file whose version it does not know
 * ({@link BufferSchemaTooNewError}) and leaves it untouched.
 *
 * Why the keys look like this: SHA-256 ids are random, and a b-tree keyed on random values dirties one page
 * per inserted row, which cut batched insert speed about five times in our measurement (37k/s against 200k/s
 * with ordered keys, bench/buffer_bench.ts). So rows are stored in an INTEGER rowid (`seq`, enqueue order),
 * and duplicates are refused by a UNIQUE index on `(ts, id)`. A record's id is the hash of its content,
 * including `ts`, so two records with the same id always have the same ts and `UNIQUE(ts, id)` refuses exactly
 * what `UNIQUE(id)` would. Readings arrive roughly in time order, so that index also grows at its right edge.
 * Acks address rows by `seq` (the buffer remembers the seq of each record it handed out).
 *
 * `state` is `queued` or `in_flight`; a partial index on the few in-flight rows makes startup recovery of
 * stale claims cheap however many records are queued.
 */
import type { DatabaseSync } from "node:sqlite";
import { BufferSchemaTooNewError } from "./errors.ts";

/** The schema version this build writes. */
export const SCHEMA_VERSION = 3;

/** Version 1 (the first released layout): the queue and the key/value table. Kept for migration tests. */
export const SCHEMA_V1_SQL = `
CREATE TABLE telemetry_buffer (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  machine_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'in_flight')),
  attempts INTEGER NOT NULL DEFAULT 0,
  enqueued_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX telemetry_buffer_ts_id ON telemetry_buffer(ts, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`;

/** Step 1 -> 2: dead letters, and the partial index on in-flight rows. */
const MIGRATE_1_TO_2 = `
CREATE TABLE dead_letter (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  machine_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  dead_at INTEGER NOT NULL
);
CREATE INDEX telemetry_buffer_in_flight ON telemetry_buffer(seq) WHERE state = 'in_flight';
`;

/**
 * Step 2 -> 3: drivers' resume cursors, one row per machine, written in the same transaction as the records
 * they follow (so a committed record and its cursor are one event).
 */
const MIGRATE_2_TO_3 = `
CREATE TABLE driver_cursor (
  machine_id TEXT PRIMARY KEY,
  cursor TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Migration steps: `MIGRATIONS[v]` takes version v to v + 1. */
const MIGRATIONS: Record<number, string> = { 0: SCHEMA_V1_SQL, 1: MIGRATE_1_TO_2, 2: MIGRATE_2_TO_3 };

/** How long a read-write connection waits for a lock held by a reader (`PRAGMA busy_timeout`). */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Connection settings every read-write connection uses:
 * - WAL: readers (status, dead-letters list) never block the writer, and a commit is one append.
 * - synchronous=FULL: a commit fsyncs the WAL before it returns, so a committed record survives a power cut,
 *   not only a crash of the agent. Group commit makes that one fsync per up to 1000 records. (store.ts
 *   switches to NORMAL for claims and acks, whose loss only resends records.)
 * - journal_size_limit: the WAL is truncated back to 64 MiB after checkpoints, so it cannot keep its peak size.
 * - cache 16 MiB; temp tables in memory; busy_timeout for the moments a reader holds a lock.
 */
export const CONNECTION_PRAGMAS = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA journal_size_limit = 67108864;
PRAGMA cache_size = -16384;
PRAGMA temp_store = MEMORY;
PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS};
`;

/** Reads `PRAGMA user_version`. */
export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
  return Number(row.user_version);
}

/**
 * Brings the file to {@link SCHEMA_VERSION}. A new file gets `auto_vacuum = INCREMENTAL` first (it can only be
 * chosen before the first table). Throws {@link BufferSchemaTooNewError} for a newer file. Returns the
 * version found.
 */
export function migrate(db: DatabaseSync, path: string): number {
  const found = refuseNewer(db, path);
  if (found === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number };
    if (Number(tables.n) === 0) db.exec("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;");
  }
  for (let v = found; v < SCHEMA_VERSION; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[v]);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }
  return found;
}

/** Reads the schema version and throws {@link BufferSchemaTooNewError} when it is newer than this build's. */
export function refuseNewer(db: DatabaseSync, path: string): number {
  const found = schemaVersion(db);
  if (found > SCHEMA_VERSION) {
    throw new BufferSchemaTooNewError(
      `${path} has buffer schema version ${found}, but this simco-agent understands up to version ${SCHEMA_VERSION}: ` +
        `run a newer simco-agent, or move the file aside to start with an empty buffer`,
    );
  }
  return found;
}
