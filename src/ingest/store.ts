/**
 * The reference ingest's storage: one SQLite file holding each record once, and the counters the tests and
 * benchmarks read. Deduplication by id is checked against an in-memory set of the stored ids, loaded from
 * the file at start (a single process writes the file): a unique index on random SHA-256 keys would cost
 * every batch a write of ~one index page per record and cut the ingest's rate to a third. `synchronous = OFF`: this is a test server; a record it stored
 * survives the ingest process dying (the OS has the pages), not a power cut, and halves insert cost. A rowid table with a unique index on `id` keeps inserts sequential
 * in the table and puts the random SHA-256 keys only in the (small) index.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { WireRecord } from "../wire/protocol.ts";

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
  readonly #ids = new Set<string>();
  readonly #counts: IngestCounts = { received: 0, unique: 0, duplicates: 0, rejected: 0, requests: 0 };

  /** Opens (creating if needed) the store at `dbPath`. */
  constructor(dbPath: string) {
    this.#db = new DatabaseSync(dbPath);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = OFF;
      PRAGMA cache_size = -65536;
      CREATE TABLE IF NOT EXISTS records (
        id TEXT NOT NULL, agent_id TEXT NOT NULL, machine_id TEXT NOT NULL, ts INTEGER NOT NULL,
        metrics TEXT NOT NULL, received_at INTEGER NOT NULL);
    `);
    this.#insert = this.#db.prepare(
      "INSERT INTO records (id, agent_id, machine_id, ts, metrics, received_at) VALUES (?,?,?,?,?,?)",
    );
    for (const row of this.#db.prepare("SELECT id FROM records").iterate()) this.#ids.add(String(row.id));
    this.#counts.unique = this.#ids.size;
  }

  /** Stores the new ones among valid records in one transaction; returns how many were new. */
  store(agentId: string, records: readonly WireRecord[], nowMs: number): { inserted: number } {
    const fresh: WireRecord[] = [];
    const inBatch = new Set<string>();
    for (const r of records) {
      if (this.#ids.has(r.id) || inBatch.has(r.id)) continue;
      inBatch.add(r.id);
      fresh.push(r);
    }
    this.#db.exec("BEGIN");
    try {
      for (const r of fresh) {
        this.#insert.run(r.id, agentId, r.machine_id, r.ts, JSON.stringify(r.metrics), nowMs);
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
    for (const id of inBatch) this.#ids.add(id);
    const inserted = fresh.length;
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
