/**
 * The durable store-and-forward buffer: `<data_dir>/buffer.db`, one SQLite file in WAL mode.
 *
 * Commit policy (see docs/buffer.md): `enqueue` puts the record in memory and resolves only after the
 * transaction holding it has committed with `synchronous = FULL`. Records are group-committed: a
 * transaction is written when `commitMaxRecords` (1000) are waiting or `commitIntervalMs` (100 ms) after the
 * first one arrived, whichever comes first. Claim, ack, nack and dead-letter are each one small transaction,
 * run at once.
 *
 * Storage failures (disk full, read-only file, I/O error) never stop the agent: the failed transaction is
 * rolled back (SQLite keeps the file consistent), CRITICAL is logged once for the episode, and the waiting
 * records stay in memory, up to `maxPendingRecords`; past that `enqueue` rejects with
 * BufferUnavailableError (and `hasRoom()` turns false), so nothing is ever dropped without its caller
 * knowing. The commit is retried with backoff (100 ms doubling to `retryMaxMs`) and INFO is logged when it
 * succeeds again. Acks, nacks and dead-letter moves that failed are kept and retried the same way.
 *
 * Damage (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) at open or later: the file is moved aside, what SQLite can still
 * read is salvaged into a fresh file (salvage.ts), CRITICAL names the moved file, and the buffer goes on.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { getLog, type Log } from "../log/mod.ts";
import type { IdentifiedRecord, Metrics } from "../record/mod.ts";
import {
  BufferClosedError,
  BufferFullError,
  BufferUnavailableError,
  classifySqliteError,
  errorText,
} from "./errors.ts";
import { CONNECTION_PRAGMAS, migrate, refuseNewer } from "./schema.ts";
import { moveAside, salvageInto } from "./salvage.ts";

/** The file name of the buffer inside the data directory. */
export const BUFFER_FILE = "buffer.db";

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
  /** Clock for enqueue and dead-letter times (default Date.now). */
  now?: () => number;
}

/** A record handed to the uplink by {@link TelemetryBuffer.claim}. */
export interface ClaimedRecord {
  /** The record id (lowercase hex SHA-256). */
  id: string;
  /** Machine id. */
  machine_id: string;
  /** Epoch milliseconds UTC. */
  ts: number;
  /** The metrics object. */
  metrics: Metrics;
  /** Failed delivery attempts so far (nacks). */
  attempts: number;
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
  /** Records in memory waiting for their commit (0 from {@link readBufferStats}). */
  pending: number;
  /** The storage error of the current failure episode, or null while storage works. */
  storage_error: string | null;
}

/** One dead letter, as listed by the CLI. */
export interface DeadLetter {
  /** Record id. */
  id: string;
  /** Machine id. */
  machine_id: string;
  /** Record time, epoch ms. */
  ts: number;
  /** Metrics as canonical-ish JSON text (as stored). */
  metrics: string;
  /** Delivery attempts before rejection. */
  attempts: number;
  /** Why the cloud rejected it. */
  reason: string;
  /** When it was dead-lettered, epoch ms. */
  dead_at: number;
}

interface Pending {
  readonly rec: IdentifiedRecord;
  readonly d: PromiseWithResolvers<{ inserted: boolean }>;
}

type Op =
  | { kind: "ack"; seqs: number[] }
  | { kind: "nack"; seqs: number[] }
  | { kind: "dead"; items: { seq: number; reason: string }[] };

interface Delta {
  queued: number;
  inFlight: number;
  dead: number;
}

const DROP_WARN_INTERVAL_MS = 60_000;

/** The store-and-forward buffer of one data directory. Use from the process that holds the data-dir lock. */
export class TelemetryBuffer {
  readonly #path: string;
  readonly #opts: Required<Omit<BufferOptions, "log" | "maxPageCount">> & { maxPageCount?: number };
  readonly #log: Log;
  #db!: DatabaseSync;
  #st!: Record<
    | "insert"
    | "drop"
    | "claim"
    | "mark"
    | "ack"
    | "nack"
    | "deadCopy"
    | "deadDel"
    | "getMeta"
    | "setMeta"
    | "oldest",
    StatementSync
  >;
  #pending: Pending[] = [];
  #deferred: Op[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #episode: { since: number; error: string } | null = null;
  #retryMs = 100;
  /** Seq of each record handed out by claim() and not yet settled. */
  readonly #inFlightSeq = new Map<string, number>();
  #queued = 0;
  #inFlight = 0;
  #dead = 0;
  #dropped = 0;
  #duplicates = 0;
  #droppedUnwarned = 0;
  #lastDropWarn = -Infinity;
  #deletedSinceVacuum = 0;

  private constructor(path: string, opts: BufferOptions) {
    this.#path = path;
    const commitMaxRecords = opts.commitMaxRecords ?? 1000;
    this.#opts = {
      maxRecords: opts.maxRecords,
      whenFull: opts.whenFull,
      commitIntervalMs: opts.commitIntervalMs ?? 100,
      commitMaxRecords,
      maxPendingRecords: opts.maxPendingRecords ?? 10 * commitMaxRecords,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      maxPageCount: opts.maxPageCount,
      now: opts.now ?? Date.now,
    };
    this.#log = opts.log ?? getLog("buffer");
  }

  /**
   * Opens (creating the directory and file) `<dataDir>/buffer.db`: migrates it forward, refuses a newer
   * schema (BufferSchemaTooNewError), replaces a damaged file (moved aside, salvaged, CRITICAL), and
   * returns every stale in-flight record to the queue.
   */
  static open(dataDir: string, opts: BufferOptions): TelemetryBuffer {
    if (!Number.isSafeInteger(opts.maxRecords) || opts.maxRecords < 1) {
      throw new RangeError(`maxRecords: expected a positive integer, got ${opts.maxRecords}`);
    }
    mkdirSync(dataDir, { recursive: true });
    const buf = new TelemetryBuffer(join(dataDir, BUFFER_FILE), opts);
    buf.#openFile();
    return buf;
  }

  /** The path of buffer.db. */
  get path(): string {
    return this.#path;
  }

  #openFile(): void {
    try {
      this.#connect();
    } catch (e) {
      if (classifySqliteError(e) !== "corrupt") throw e;
      this.#replaceDamaged(e);
    }
  }

  #connect(): void {
    const db = new DatabaseSync(this.#path);
    try {
      refuseNewer(db, this.#path); // before any pragma writes to a file this build must not touch
      db.exec(CONNECTION_PRAGMAS);
      migrate(db, this.#path);
      const check = db.prepare("PRAGMA quick_check(1)").get() as Record<string, string>;
      const verdict = Object.values(check)[0];
      if (verdict !== "ok") throw new Error(`database disk image is malformed (quick_check: ${verdict})`);
      if (this.#opts.maxPageCount !== undefined) {
        db.exec(`PRAGMA max_page_count = ${this.#opts.maxPageCount}`);
      }
      const stale = Number(
        db.prepare("UPDATE telemetry_buffer SET state = 'queued' WHERE state = 'in_flight'").run().changes,
      );
      if (stale > 0) {
        this.#log.info(`returned ${stale} stale in-flight records to the queue`, { path: this.#path });
      }
      this.#db = db;
      this.#prepare();
      this.#queued = Number(
        (db.prepare("SELECT count(*) AS n FROM telemetry_buffer").get() as { n: number }).n,
      );
      this.#inFlight = 0;
      this.#inFlightSeq.clear();
      this.#dead = Number((db.prepare("SELECT count(*) AS n FROM dead_letter").get() as { n: number }).n);
      this.#dropped = Number(this.getMeta("dropped_total") ?? 0);
      this.#duplicates = Number(this.getMeta("duplicates_total") ?? 0);
    } catch (e) {
      if (db.isOpen) db.close();
      throw e;
    }
  }

  #prepare(): void {
    const p = (sql: string) => this.#db.prepare(sql);
    const SEQS = "seq IN (SELECT value FROM json_each(?))";
    this.#st = {
      insert: p(
        "INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, enqueued_at) VALUES (?, ?, ?, ?, ?)",
      ),
      drop: p(
        "DELETE FROM telemetry_buffer WHERE seq IN " +
          "(SELECT seq FROM telemetry_buffer WHERE state = 'queued' ORDER BY seq LIMIT ?)",
      ),
      claim: p(
        "SELECT seq, id, machine_id, ts, metrics, attempts FROM telemetry_buffer " +
          "WHERE state = 'queued' ORDER BY seq LIMIT ?",
      ),
      // The claimed rows are exactly the queued rows between the first and the last one selected.
      mark: p(
        "UPDATE telemetry_buffer SET state = 'in_flight' WHERE seq BETWEEN ? AND ? AND state = 'queued'",
      ),
      ack: p(`DELETE FROM telemetry_buffer WHERE ${SEQS} AND state = 'in_flight'`),
      nack: p(
        `UPDATE telemetry_buffer SET state = 'queued', attempts = attempts + 1 WHERE ${SEQS} AND state = 'in_flight'`,
      ),
      deadCopy: p(
        "INSERT OR REPLACE INTO dead_letter(id, machine_id, ts, metrics, attempts, reason, dead_at) " +
          "SELECT id, machine_id, ts, metrics, attempts, ?, ? FROM telemetry_buffer WHERE seq = ? AND state = 'in_flight'",
      ),
      deadDel: p("DELETE FROM telemetry_buffer WHERE seq = ? AND state = 'in_flight'"),
      getMeta: p("SELECT value FROM meta WHERE key = ?"),
      setMeta: p("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)"),
      oldest: p("SELECT ts FROM telemetry_buffer WHERE state = 'queued' ORDER BY seq LIMIT 1"),
    };
  }

  /** Moves the damaged file aside, salvages it into a fresh one, logs CRITICAL with the path. */
  #replaceDamaged(cause: unknown): void {
    if (this.#db?.isOpen) {
      try {
        this.#db.close();
      } catch { /* closing a damaged connection may fail; the file is moved anyway */ }
    }
    const movedTo = moveAside(this.#path, this.#opts.now());
    this.#connect();
    let salvaged = { records: 0, deadLetters: 0 };
    try {
      salvaged = salvageInto(movedTo, this.#db, this.#opts.now());
    } catch (e) {
      this.#log.error(`salvage from ${movedTo} stopped: ${errorText(e)}`);
    }
    this.#queued = Number(
      (this.#db.prepare("SELECT count(*) AS n FROM telemetry_buffer").get() as { n: number }).n,
    );
    this.#dead = Number((this.#db.prepare("SELECT count(*) AS n FROM dead_letter").get() as { n: number }).n);
    this.#dropped = Number(this.getMeta("dropped_total") ?? 0);
    this.#duplicates = Number(this.getMeta("duplicates_total") ?? 0);
    this.#log.critical(
      `buffer file was damaged (${errorText(cause)}): moved it to ${movedTo}, salvaged ${salvaged.records} ` +
        `records and ${salvaged.deadLetters} dead letters into a fresh ${this.#path}`,
      { moved_to: movedTo, path: this.#path },
    );
  }

  /**
   * Adds a record. Resolves once the group commit that holds it is durable, with `inserted: false` when the
   * same record (same id) was already in the buffer. Rejects with BufferFullError (stop_polling and far past
   * the cap), BufferUnavailableError (storage failing and the in-memory backlog full) or BufferClosedError.
   */
  enqueue(record: IdentifiedRecord): Promise<{ inserted: boolean }> {
    if (this.#closed) return Promise.reject(new BufferClosedError("buffer is closed"));
    const o = this.#opts;
    if (this.#episode && this.#pending.length >= o.maxPendingRecords) {
      return Promise.reject(
        new BufferUnavailableError(
          `buffer storage is failing (${this.#episode.error}); ${this.#pending.length} records already wait in memory`,
        ),
      );
    }
    if (
      o.whenFull === "stop_polling" &&
      this.#queued + this.#pending.length >= o.maxRecords + o.commitMaxRecords
    ) {
      return Promise.reject(
        new BufferFullError(`buffer is full: ${this.#queued} records queued (max_records ${o.maxRecords})`),
      );
    }
    const d = Promise.withResolvers<{ inserted: boolean }>();
    this.#pending.push({ rec: record, d });
    if (this.#pending.length >= o.commitMaxRecords && !this.#episode) this.#commit();
    else this.#schedule();
    return d.promise;
  }

  /** Commits whatever is pending now; resolves when those records are durable (or settled with an error). */
  async flush(): Promise<void> {
    const waiting = this.#pending.map((p) => p.d.promise);
    this.#commit();
    await Promise.allSettled(waiting);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const delay = this.#episode ? this.#retryMs : this.#opts.commitIntervalMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#commit();
    }, delay);
  }

  /** Writes pending records and deferred operations in one transaction. Never throws. */
  #commit(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#closed || (this.#pending.length === 0 && this.#deferred.length === 0)) return;
    const batch = this.#pending;
    const ops = this.#deferred;
    this.#pending = [];
    this.#deferred = [];
    const db = this.#db;
    const st = this.#st;
    const now = this.#opts.now();
    const results: boolean[] = new Array(batch.length);
    const delta: Delta = { queued: 0, inFlight: 0, dead: 0 };
    let dups = 0;
    let dropped = 0;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (const op of ops) addDelta(delta, this.#apply(op));
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i].rec;
        const ok =
          Number(st.insert.run(r.id, r.machine_id, r.ts, JSON.stringify(r.metrics), now).changes) > 0;
        results[i] = ok;
        if (ok) delta.queued++;
        else dups++;
      }
      const over = this.#queued + delta.queued - this.#opts.maxRecords;
      if (over > 0 && this.#opts.whenFull === "drop_oldest") {
        dropped = Number(st.drop.run(over).changes);
        delta.queued -= dropped;
        if (dropped) st.setMeta.run("dropped_total", String(this.#dropped + dropped));
      }
      if (dups) st.setMeta.run("duplicates_total", String(this.#duplicates + dups));
      db.exec("COMMIT");
    } catch (e) {
      if (db.isOpen && db.isTransaction) {
        try {
          db.exec("ROLLBACK");
        } catch { /* SQLite may already have rolled back */ }
      }
      this.#commitFailed(e, batch, ops);
      return;
    }
    this.#queued += delta.queued;
    this.#inFlight += delta.inFlight;
    this.#dead += delta.dead;
    this.#duplicates += dups;
    this.#dropped += dropped;
    this.#deletedSinceVacuum += dropped;
    if (dropped) this.#warnDropped(dropped);
    this.#recovered();
    for (let i = 0; i < batch.length; i++) batch[i].d.resolve({ inserted: results[i] });
    this.#maybeVacuum();
    if (this.#pending.length || this.#deferred.length) this.#schedule();
  }

  #commitFailed(e: unknown, batch: Pending[], ops: Op[]): void {
    const kind = classifySqliteError(e);
    if (kind === "storage" || kind === "busy") {
      this.#pending = batch.concat(this.#pending);
      this.#deferred = ops.concat(this.#deferred);
      this.#storageFailing(e);
      this.#schedule();
      return;
    }
    if (kind === "corrupt") {
      this.#replaceDamaged(e);
      // Claimed rows were re-queued by the salvage: their acks no longer apply (a resend is deduplicated).
      this.#pending = batch.concat(this.#pending);
      this.#schedule();
      return;
    }
    this.#log.error(`buffer commit failed: ${errorText(e)}; ${batch.length} records not buffered`);
    for (const p of batch) p.d.reject(e);
  }

  #storageFailing(e: unknown): void {
    const msg = errorText(e);
    if (this.#episode) {
      this.#episode.error = msg;
      this.#retryMs = Math.min(this.#retryMs * 2, this.#opts.retryMaxMs);
      return;
    }
    this.#episode = { since: this.#opts.now(), error: msg };
    this.#retryMs = 100;
    this.#log.critical(
      `buffer storage is failing: ${msg}; keeping up to ${this.#opts.maxPendingRecords} new records in memory ` +
        `and retrying until it works again`,
      { path: this.#path },
    );
  }

  #recovered(): void {
    if (!this.#episode) return;
    const secs = ((this.#opts.now() - this.#episode.since) / 1000).toFixed(1);
    this.#log.info(`buffer storage works again after ${secs}s`, { path: this.#path });
    this.#episode = null;
    this.#retryMs = 100;
  }

  #warnDropped(n: number): void {
    this.#droppedUnwarned += n;
    const now = this.#opts.now();
    if (now - this.#lastDropWarn < DROP_WARN_INTERVAL_MS) return;
    this.#log.warn(
      `buffer full (max_records ${this.#opts.maxRecords}): dropped the ${this.#droppedUnwarned} oldest queued ` +
        `records (${this.#dropped} dropped in total)`,
      { dropped: this.#droppedUnwarned, dropped_total: this.#dropped },
    );
    this.#droppedUnwarned = 0;
    this.#lastDropWarn = now;
  }

  /** Runs one operation inside the current transaction; returns the count changes. */
  #apply(op: Op): Delta {
    const st = this.#st;
    if (op.kind === "ack") {
      const n = Number(st.ack.run(JSON.stringify(op.seqs)).changes);
      this.#deletedSinceVacuum += n;
      return { queued: 0, inFlight: -n, dead: 0 };
    }
    if (op.kind === "nack") {
      const n = Number(st.nack.run(JSON.stringify(op.seqs)).changes);
      return { queued: n, inFlight: -n, dead: 0 };
    }
    const now = this.#opts.now();
    let n = 0;
    for (const it of op.items) {
      st.deadCopy.run(it.reason, now, it.seq);
      n += Number(st.deadDel.run(it.seq).changes);
    }
    this.#deletedSinceVacuum += n;
    return { queued: 0, inFlight: -n, dead: n };
  }

  /** Runs an operation now in its own transaction, or keeps it for the next commit while storage fails. */
  #runOp(op: Op): void {
    if (this.#closed) throw new BufferClosedError("buffer is closed");
    const db = this.#db;
    let delta: Delta;
    try {
      db.exec("BEGIN IMMEDIATE");
      delta = this.#apply(op);
      db.exec("COMMIT");
    } catch (e) {
      if (db.isOpen && db.isTransaction) {
        try {
          db.exec("ROLLBACK");
        } catch { /* already rolled back */ }
      }
      const kind = classifySqliteError(e);
      if (kind === "storage" || kind === "busy") {
        this.#deferred.push(op);
        this.#storageFailing(e);
        this.#schedule();
        return;
      }
      if (kind === "corrupt") {
        this.#replaceDamaged(e);
        return;
      }
      throw e;
    }
    this.#queued += delta.queued;
    this.#inFlight += delta.inFlight;
    this.#dead += delta.dead;
    this.#maybeVacuum();
  }

  /**
   * Atomically moves up to `n` of the oldest queued records (enqueue order) to in-flight and returns them.
   * Returns [] while storage fails.
   */
  claim(n: number): ClaimedRecord[] {
    if (this.#closed) throw new BufferClosedError("buffer is closed");
    if (!(n > 0)) return [];
    let rows: {
      seq: number;
      id: string;
      machine_id: string;
      ts: number;
      metrics: string;
      attempts: number;
    }[];
    const db = this.#db;
    try {
      db.exec("BEGIN IMMEDIATE");
      rows = this.#st.claim.all(Math.floor(n)) as unknown as typeof rows;
      if (rows.length) {
        const marked = Number(this.#st.mark.run(rows[0].seq, rows[rows.length - 1].seq).changes);
        if (marked !== rows.length) {
          throw new Error(`claim marked ${marked} rows for ${rows.length} selected`);
        }
      }
      db.exec("COMMIT");
    } catch (e) {
      if (db.isOpen && db.isTransaction) {
        try {
          db.exec("ROLLBACK");
        } catch { /* already rolled back */ }
      }
      const kind = classifySqliteError(e);
      if (kind === "storage" || kind === "busy") {
        this.#storageFailing(e);
        this.#schedule();
        return [];
      }
      if (kind === "corrupt") {
        this.#replaceDamaged(e);
        return [];
      }
      throw e;
    }
    this.#queued -= rows.length;
    this.#inFlight += rows.length;
    const out: ClaimedRecord[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      this.#inFlightSeq.set(r.id, r.seq);
      out[i] = {
        id: r.id,
        machine_id: r.machine_id,
        ts: Number(r.ts),
        metrics: JSON.parse(r.metrics),
        attempts: Number(r.attempts),
      };
    }
    return out;
  }

  #seqsOf(ids: readonly string[]): number[] {
    const seqs: number[] = [];
    for (const id of ids) {
      const s = this.#inFlightSeq.get(id);
      if (s === undefined) continue;
      this.#inFlightSeq.delete(id);
      seqs.push(s);
    }
    return seqs;
  }

  /** Deletes delivered records (ids handed out by claim; other ids are ignored). */
  ack(ids: readonly string[]): void {
    const seqs = this.#seqsOf(ids);
    if (seqs.length) this.#runOp({ kind: "ack", seqs });
  }

  /** Returns claimed records to the queue (keeping their place) with attempts + 1. */
  nack(ids: readonly string[]): void {
    const seqs = this.#seqsOf(ids);
    if (seqs.length) this.#runOp({ kind: "nack", seqs });
  }

  /** Moves claimed records the cloud rejected to the dead_letter table with the reason and the time. */
  deadLetter(items: readonly { id: string; reason: string }[]): void {
    const out: { seq: number; reason: string }[] = [];
    for (const it of items) {
      const seq = this.#seqsOf([it.id])[0];
      if (seq !== undefined) out.push({ seq, reason: it.reason });
    }
    if (out.length) this.#runOp({ kind: "dead", items: out });
  }

  /** False while when_full = stop_polling and the queue is at max_records, or storage fails and memory is full. */
  hasRoom(): boolean {
    if (this.#episode && this.#pending.length >= this.#opts.maxPendingRecords) return false;
    return this.#opts.whenFull !== "stop_polling" ||
      this.#queued + this.#pending.length < this.#opts.maxRecords;
  }

  /** Current counts (from memory, except oldest_queued_ts and file size). */
  stats(): BufferStats {
    let oldest: number | null = null;
    try {
      const r = this.#st.oldest.get() as { ts: number } | undefined;
      oldest = r ? Number(r.ts) : null;
    } catch { /* storage trouble: unknown */ }
    return {
      queued: this.#queued,
      in_flight: this.#inFlight,
      dead_letter: this.#dead,
      dropped_total: this.#dropped,
      duplicates_total: this.#duplicates,
      oldest_queued_ts: oldest,
      file_bytes: fileBytes(this.#path),
      pending: this.#pending.length,
      storage_error: this.#episode?.error ?? null,
    };
  }

  /**
   * Caps the file at `pages` pages (SQLite `max_page_count`; null lifts the cap to SQLite's maximum). Writes
   * past the cap fail like a full disk. An operator quota, and how tests fill and free the "disk".
   */
  setMaxPageCount(pages: number | null): void {
    this.#opts.maxPageCount = pages ?? undefined;
    this.#db.prepare(
      `PRAGMA max_page_count = ${pages === null ? 4294967294 : Math.max(1, Math.floor(pages))}`,
    ).get();
  }

  /** Pages the file has now (for quotas and tests). */
  pageCount(): number {
    return Number((this.#db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count);
  }

  /** Reads a small persisted value. */
  getMeta(key: string): string | null {
    const r = this.#st.getMeta.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  /** Writes a small persisted value (its own transaction). */
  setMeta(key: string, value: string): void {
    this.#st.setMeta.run(key, value);
  }

  /** The dead letters, oldest first (at most `limit`). */
  listDeadLetters(limit = Number.MAX_SAFE_INTEGER): DeadLetter[] {
    return listDeadLettersIn(this.#db, limit);
  }

  /** Moves every dead letter back to the queue (attempts reset to 0). Returns how many were requeued. */
  requeueDeadLetters(): number {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      const n = Number(
        db.prepare(
          "INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, enqueued_at) " +
            "SELECT id, machine_id, ts, metrics, ? FROM dead_letter ORDER BY seq",
        ).run(this.#opts.now()).changes,
      );
      const all = Number(db.prepare("DELETE FROM dead_letter").run().changes);
      db.exec("COMMIT");
      this.#queued += n;
      this.#dead -= all;
      return all;
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }

  /** Deletes every dead letter. Returns how many were deleted. */
  purgeDeadLetters(): number {
    const n = Number(this.#db.prepare("DELETE FROM dead_letter").run().changes);
    this.#dead -= n;
    this.#deletedSinceVacuum += n;
    this.#maybeVacuum();
    return n;
  }

  /** Returns free pages to the file system once enough rows were deleted (auto_vacuum = INCREMENTAL). */
  #maybeVacuum(force = false): void {
    if (!force && this.#deletedSinceVacuum < 4096) return;
    this.#deletedSinceVacuum = 0;
    try {
      const free = Number(
        (this.#db.prepare("PRAGMA freelist_count").get() as { freelist_count: number }).freelist_count,
      );
      const pages = Number(
        (this.#db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count,
      );
      if (force ? free > 0 : free >= 2048 && free * 4 >= pages) {
        {
          // .all() steps the pragma to completion (exec() frees a single page per call in node:sqlite).
          this.#db.prepare(`PRAGMA incremental_vacuum(${force ? 0 : 4096})`).all();
        }
      }
    } catch { /* space is returned on a later try */ }
  }

  /** Commits pending records, returns free space, checkpoints and closes. Records that still cannot be
   * written (storage failing) are rejected with BufferUnavailableError and counted in an ERROR. */
  // deno-lint-ignore require-await
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#commit();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closed = true;
    const lost = this.#pending;
    this.#pending = [];
    if (lost.length) {
      this.#log.error(
        `buffer closed while storage was failing (${this.#episode?.error}): ${lost.length} records were not buffered`,
      );
      const err = new BufferUnavailableError(`buffer closed before the record could be written`);
      for (const p of lost) p.d.reject(err);
    }
    try {
      this.#maybeVacuum(true);
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* the next open recovers from the WAL */ }
    this.#db.close();
  }
}

function addDelta(target: Delta, d: Delta): void {
  target.queued += d.queued;
  target.inFlight += d.inFlight;
  target.dead += d.dead;
}

/** Size of a SQLite file plus its WAL, in bytes (0 for missing parts). */
export function fileBytes(path: string): number {
  let n = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      n += statSync(p).size;
    } catch { /* absent */ }
  }
  return n;
}

/** Lists dead letters from an open connection, oldest first. */
export function listDeadLettersIn(db: DatabaseSync, limit: number): DeadLetter[] {
  const rows = db.prepare(
    "SELECT id, machine_id, ts, metrics, attempts, reason, dead_at FROM dead_letter ORDER BY seq LIMIT ?",
  ).all(limit) as unknown as DeadLetter[];
  return rows.map((r) => ({
    ...r,
    ts: Number(r.ts),
    attempts: Number(r.attempts),
    dead_at: Number(r.dead_at),
  }));
}
