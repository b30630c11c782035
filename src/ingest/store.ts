/**
 * The reference ingest's storage: one SQLite file, records deduplicated by id (insert-or-ignore), and the
 * counters the tests and benchmarks read. A rowid table with a unique index on `id` keeps inserts sequential
 * in the table and puts the random SHA-256 keys only in the (small) index.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { WireRecord } from "../uplink/protocol.ts";

/** What the ingest has seen. */
export interface IngestCounts {
  /** Valid records received, duplicates included. */
  received: number;
  /** Distinct records stored. */
  unique: number;
  /** Records received again after they were stored. */
  duplicates: number;
  /** Records refused as invalid (id mismatch, bad shape, injected rejection). */
  rejected: number;
  /** HTTP requests answered or dropped on the telemetry path. */
  requests: number;
}

/** The ingest's SQLite file. */
export class IngestStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #counts: IngestCounts = { received: 0, unique: 0, duplicates: 0, rejected: 0, requests: 0 };

  /** Opens (creating if needed) the store at `dbPath`. */
  constructor(dbPath: string) {
    this.#db = new DatabaseSync(dbPath);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS records (
        id TEXT NOT NULL, agent_id TEXT NOT NULL, machine_id TEXT NOT NULL, ts INTEGER NOT NULL,
        metrics TEXT NOT NULL, received_at INTEGER NOT NULL);
      CREATE UNIQUE INDEX IF NOT EXISTS records_id ON records(id);
    `);
    this.#insert = this.#db.prepare(
      "INSERT OR IGNORE INTO records (id, agent_id, machine_id, ts, metrics, received_at) VALUES (?,?,?,?,?,?)",
    );
    const row = this.#db.prepare("SELECT COUNT(*) AS n FROM records").get() as { n: number };
    this.#counts.unique = Number(row.n);
  }

  /** Stores valid records in one transaction; returns how many were new. */
  store(agentId: string, records: readonly WireRecord[], nowMs: number): { inserted: number } {
    let inserted = 0;
    this.#db.exec("BEGIN");
    try {
      for (const r of records) {
        const res = this.#insert.run(r.id, agentId, r.machine_id, r.ts, JSON.stringify(r.metrics), nowMs);
        inserted += Number(res.changes);
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
    this.#counts.received += records.length;
    this.#counts.unique += inserted;
    this.#counts.duplicates += records.length - inserted;
    return { inserted };
  }

  /** Counts one request. */
  countRequest(): void {
    this.#counts.requests++;
  }

  /** Counts refused records. */
  countRejected(n: number): void {
    this.#counts.rejected += n;
  }

  /** A snapshot of the counters. */
  counts(): IngestCounts {
    return { ...this.#counts };
  }

  /** Every stored id (for tests: exactly-once checks). */
  ids(): string[] {
    return (this.#db.prepare("SELECT id FROM records ORDER BY rowid").all() as { id: string }[]).map((r) =>
      r.id
    );
  }

  /** Stored records of one machine in arrival order (for ordering checks). */
  tsByMachine(machineId: string): number[] {
    return (this.#db.prepare("SELECT ts FROM records WHERE machine_id = ? ORDER BY rowid").all(machineId) as {
      ts: number;
    }[]).map((r) => Number(r.ts));
  }

  /** Closes the file. */
  close(): void {
    this.#db.close();
  }
}
