/**
 * The SQL side of the buffer: one read-write connection and its prepared statements. Every method is
 * synchronous, runs in its own transaction (rolled back on failure) and throws SQLite's errors unchanged;
 * TelemetryBuffer decides what a failure means (buffer.ts).
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { BUSY_TIMEOUT_MS, CONNECTION_PRAGMAS, migrate, refuseNewer } from "./schema.ts";
import type { IdentifiedRecord, SerializedRecord } from "../record/shape.ts";
import type { DeadLetter } from "./types.ts";

/** A queue row as read by claim. */
export interface Row extends SerializedRecord {
  /** Enqueue order. */
  readonly seq: number;
  /** Nacks so far. */
  readonly attempts: number;
}

/** A record ready for insertion: its metrics already serialised (column `metrics`). */
export interface NewRow extends Omit<IdentifiedRecord, "metrics"> {
  /** Metrics JSON text. */
  readonly metrics: string;
}

/** A driver's resume cursor to upsert with the records of a group commit. */
export interface CursorRow {
  /** Machine id. */
  readonly machine_id: string;
  /** The cursor as JSON text. */
  readonly cursor: string;
}

/** A change to claimed rows, addressed by seq. */
export type Op =
  | { kind: "ack"; seqs: number[] }
  | { kind: "nack"; seqs: number[] }
  | { kind: "dead"; items: { seq: number; reason: string }[] };

/** How the row counts changed. */
export interface Delta {
  /** Change of queued rows. */
  queued: number;
  /** Change of in-flight rows. */
  inFlight: number;
  /** Change of dead letters. */
  dead: number;
  /** Rows deleted from the queue (drives incremental vacuum). */
  deleted: number;
}

/** What one group commit did. */
export interface CommitResult extends Delta {
  /** Per record: false when it was already stored. */
  inserted: boolean[];
  /** Records dropped by drop_oldest. */
  dropped: number;
  /** Repeated records. */
  duplicates: number;
}

const STATEMENTS = {
  insert:
    "INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, enqueued_at) VALUES (?, ?, ?, ?, ?)",
  drop: "DELETE FROM telemetry_buffer WHERE seq IN " +
    "(SELECT seq FROM telemetry_buffer WHERE state = 'queued' AND seq >= ? ORDER BY seq LIMIT ?)",
  claim: "SELECT seq, id, machine_id, ts, metrics AS metricsJson, attempts FROM telemetry_buffer " +
    "WHERE state = 'queued' AND seq >= ? ORDER BY seq LIMIT ?",
  // Claimed rows are exactly the queued rows between the first and the last one selected.
  mark: "UPDATE telemetry_buffer SET state = 'in_flight' WHERE seq BETWEEN ? AND ? AND state = 'queued'",
  ack: "DELETE FROM telemetry_buffer WHERE seq IN (SELECT value FROM json_each(?)) AND state = 'in_flight'",
  ackRange: "DELETE FROM telemetry_buffer WHERE seq BETWEEN ? AND ? AND state = 'in_flight'",
  nack: "UPDATE telemetry_buffer SET state = 'queued', attempts = attempts + 1 " +
    "WHERE seq IN (SELECT value FROM json_each(?)) AND state = 'in_flight'",
  nackRange: "UPDATE telemetry_buffer SET state = 'queued', attempts = attempts + 1 " +
    "WHERE seq BETWEEN ? AND ? AND state = 'in_flight'",
  deadCopy: "INSERT OR REPLACE INTO dead_letter(id, machine_id, ts, metrics, attempts, reason, dead_at) " +
    "SELECT id, machine_id, ts, metrics, attempts, ?, ? FROM telemetry_buffer WHERE seq = ? AND state = 'in_flight'",
  deadDel: "DELETE FROM telemetry_buffer WHERE seq = ? AND state = 'in_flight'",
  getMeta: "SELECT value FROM meta WHERE key = ?",
  setMeta: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
  oldest: "SELECT ts FROM telemetry_buffer WHERE state = 'queued' AND seq >= ? ORDER BY seq LIMIT 1",
  count: "SELECT count(*) AS n FROM telemetry_buffer",
  countDead: "SELECT count(*) AS n FROM dead_letter",
  requeue: "INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, enqueued_at) " +
    "SELECT id, machine_id, ts, metrics, ? FROM dead_letter ORDER BY seq",
  purge: "DELETE FROM dead_letter",
  removeQueued: "DELETE FROM telemetry_buffer WHERE ts = ? AND id = ? AND state = 'queued'",
  setCursor: "INSERT OR REPLACE INTO driver_cursor(machine_id, cursor, updated_at) VALUES (?, ?, ?)",
  getCursor: "SELECT cursor FROM driver_cursor WHERE machine_id = ?",
} as const;

/** An open buffer.db. */
export class Store {
  readonly #st: Record<keyof typeof STATEMENTS, StatementSync>;
  #durable = true; // CONNECTION_PRAGMAS set synchronous = FULL
  /**
   * No queued row has a seq below this. Claims start here instead of stepping over every in-flight row from
   * the start of the table each time (quadratic when a caller claims a large backlog before acking it).
   * Inserts and nacks lower it; anything unsure resets it to 0 (it is only ever a lower bound).
   */
  #queuedFrom = 0;

  private constructor(readonly db: DatabaseSync) {
    const st = {} as Record<keyof typeof STATEMENTS, StatementSync>;
    for (const [k, sql] of Object.entries(STATEMENTS)) st[k as keyof typeof STATEMENTS] = db.prepare(sql);
    this.#st = st;
  }

  /**
   * Opens `path` read-write: refuses a newer schema before writing anything, sets the connection pragmas,
   * migrates, runs quick_check when asked (a failure throws a "malformed" error, handled as damage), applies the page
   * cap and returns stale in-flight rows to the queue. Returns the store and how many rows were stale.
   */
  static open(path: string, maxPageCount?: number, quickCheck = true): { store: Store; stale: number } {
    const db = new DatabaseSync(path);
    try {
      refuseNewer(db, path);
      db.exec(CONNECTION_PRAGMAS);
      migrate(db, path);
      if (quickCheck) assertQuickCheck(db);
      if (maxPageCount !== undefined) db.prepare(`PRAGMA max_page_count = ${maxPageCount}`).get();
      const stale = Number(
        db.prepare("UPDATE telemetry_buffer SET state = 'queued' WHERE state = 'in_flight'").run().changes,
      );
      return { store: new Store(db), stale };
    } catch (e) {
      if (db.isOpen) db.close();
      throw e;
    }
  }

  /**
   * `durable`: commit with synchronous = FULL (fsync the WAL). Used where a lost commit would lose a record:
   * group commits (new records, drop counts), requeue, purge, meta. Claim, ack, nack and dead-letter moves
   * commit with NORMAL (written, not fsynced): a power cut that takes one of those only brings records
   * back as queued, to be sent again and deduplicated by the cloud; a later durable commit syncs them too.
   */
  #sync(durable: boolean): void {
    if (this.#durable === durable) return;
    this.db.exec(`PRAGMA synchronous = ${durable ? "FULL" : "NORMAL"}`);
    this.#durable = durable;
  }

  #tx<T>(fn: () => T, durable: boolean): T {
    this.#sync(durable);
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (e) {
      if (this.db.isOpen && this.db.isTransaction) {
        try {
          this.db.exec("ROLLBACK");
        } catch { /* SQLite already rolled back */ }
      }
      throw e;
    }
  }

  /** Rows in the queue table (all states) and dead letters. */
  counts(): { rows: number; dead: number } {
    return {
      rows: Number((this.#st.count.get() as { n: number }).n),
      dead: Number((this.#st.countDead.get() as { n: number }).n),
    };
  }

  /**
   * One group commit: deferred ops, then the records (insert-or-ignore), the drivers' cursors (upserted, in
   * order: the last per machine wins), then drop_oldest down to `maxQueued` (when given) counted in
   * `dropped_total`, and the persisted counters.
   */
  commit(
    ops: readonly Op[],
    recs: readonly NewRow[],
    now: number,
    queuedBefore: number,
    maxQueued: number | null,
    totals: { dropped: number; duplicates: number },
    cursors: readonly CursorRow[] = [],
  ): CommitResult {
    return this.#tx(() => {
      const r: CommitResult = {
        queued: 0,
        inFlight: 0,
        dead: 0,
        deleted: 0,
        inserted: [],
        dropped: 0,
        duplicates: 0,
      };
      for (const op of ops) addDelta(r, this.#apply(op, now));
      const ins = this.#st.insert;
      for (const rec of recs) {
        const res = ins.run(rec.id, rec.machine_id, rec.ts, rec.metrics, now);
        const ok = Number(res.changes) > 0;
        r.inserted.push(ok);
        if (ok) {
          r.queued++;
          // A rowid is max + 1, so after the newest row was deleted a new row can get a seq at or below it.
          const seq = Number(res.lastInsertRowid);
          if (seq < this.#queuedFrom) this.#queuedFrom = seq;
        } else r.duplicates++;
      }
      for (const c of cursors) this.#st.setCursor.run(c.machine_id, c.cursor, now);
      const over = maxQueued === null ? 0 : queuedBefore + r.queued - maxQueued;
      if (over > 0) {
        r.dropped = Number(this.#st.drop.run(this.#queuedFrom, over).changes);
        r.queued -= r.dropped;
        r.deleted += r.dropped;
        this.#st.setMeta.run("dropped_total", String(totals.dropped + r.dropped));
      }
      if (r.duplicates) this.#st.setMeta.run("duplicates_total", String(totals.duplicates + r.duplicates));
      return r;
    }, true);
  }

  #apply(op: Op, now: number): Delta {
    const st = this.#st;
    if (op.kind === "ack") {
      const n = bySeqs(op.seqs, st.ack, st.ackRange);
      return { queued: 0, inFlight: -n, dead: 0, deleted: n };
    }
    if (op.kind === "nack") {
      for (const seq of op.seqs) if (seq < this.#queuedFrom) this.#queuedFrom = seq;
      const n = bySeqs(op.seqs, st.nack, st.nackRange);
      return { queued: n, inFlight: -n, dead: 0, deleted: 0 };
    }
    let n = 0;
    for (const it of op.items) {
      st.deadCopy.run(it.reason, now, it.seq);
      n += Number(st.deadDel.run(it.seq).changes);
    }
    return { queued: 0, inFlight: -n, dead: n, deleted: n };
  }

  /** Applies ops in one transaction. */
  apply(ops: readonly Op[], now: number): Delta {
    return this.#tx(() => {
      const d: Delta = { queued: 0, inFlight: 0, dead: 0, deleted: 0 };
      for (const op of ops) addDelta(d, this.#apply(op, now));
      return d;
    }, false);
  }

  /** Marks up to `n` oldest queued rows in flight and returns them in enqueue order. */
  claim(n: number): Row[] {
    const rows = this.#tx(() => {
      const rows = this.#st.claim.all(this.#queuedFrom, n) as unknown as Row[];
      if (rows.length) {
        const marked = Number(this.#st.mark.run(rows[0].seq, rows[rows.length - 1].seq).changes);
        if (marked !== rows.length) {
          throw new Error(`claim marked ${marked} rows for ${rows.length} selected`);
        }
      }
      return rows;
    }, false);
    if (rows.length) this.#queuedFrom = rows[rows.length - 1].seq + 1;
    return rows;
  }

  /** `ts` of the oldest queued row, or null. */
  oldestQueuedTs(): number | null {
    const r = this.#st.oldest.get(this.#queuedFrom) as { ts: number } | undefined;
    return r ? Number(r.ts) : null;
  }

  /** A machine's stored cursor (JSON text), or null. */
  getCursor(machineId: string): string | null {
    const r = this.#st.getCursor.get(machineId) as { cursor: string } | undefined;
    return r ? r.cursor : null;
  }

  /** A persisted value. */
  getMeta(key: string): string | null {
    const r = this.#st.getMeta.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  /** Persists a value. */
  setMeta(key: string, value: string): void {
    this.#sync(true);
    this.#st.setMeta.run(key, value);
  }

  /** Moves every dead letter back to the queue. Returns [dead letters removed, rows newly queued]. */
  requeueDeadLetters(now: number): [number, number] {
    this.#queuedFrom = 0;
    return this.#tx(() => {
      const queued = Number(this.#st.requeue.run(now).changes);
      return [Number(this.#st.purge.run().changes), queued];
    }, true);
  }

  /**
   * Deletes the queued rows with these keys (an export handed to the uploader by hand: `export --remove`),
   * in one transaction; in-flight rows are left to the uploader that claimed them. Returns how many went.
   */
  removeQueued(keys: readonly { ts: number; id: string }[]): number {
    return this.#tx(() => {
      let n = 0;
      for (const k of keys) n += Number(this.#st.removeQueued.run(k.ts, k.id).changes);
      return n;
    }, false);
  }

  /** Deletes every dead letter; returns how many. */
  purgeDeadLetters(): number {
    this.#sync(true);
    return Number(this.#st.purge.run().changes);
  }

  /** Dead letters, oldest first. */
  listDeadLetters(limit: number): DeadLetter[] {
    return listDeadLettersIn(this.db, limit);
  }

  /** Sets the page cap (null: SQLite's maximum). */
  setMaxPageCount(pages: number | null): void {
    this.db.prepare(`PRAGMA max_page_count = ${pages === null ? 4294967294 : Math.max(1, Math.floor(pages))}`)
      .get();
  }

  /** Pages in the file. */
  pageCount(): number {
    return Number((this.db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count);
  }

  /** Free-list pages and the file's page count. */
  space(): { free: number; pages: number } {
    const free = Number(
      (this.db.prepare("PRAGMA freelist_count").get() as { freelist_count: number }).freelist_count,
    );
    return { free, pages: this.pageCount() };
  }

  /**
   * Returns free pages to the file system (auto_vacuum = INCREMENTAL): `pages` of them with
   * `incremental_vacuum` (`Infinity`: all), or `"rebuild"`: a full `VACUUM` (copies the live pages, so only
   * for a small file) followed by a checkpoint that truncates the WAL unless a reader is in the way, so the
   * space is back now rather than at the next checkpoint.
   */
  vacuum(plan: "none" | "rebuild" | number): void {
    if (plan === "none" || plan === 0) return;
    if (plan === "rebuild") {
      this.db.exec("VACUUM");
      try {
        this.checkpoint();
      } finally {
        this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      return;
    }
    // .all() steps the pragma to completion (exec() frees a single page per call in node:sqlite).
    this.db.prepare(`PRAGMA incremental_vacuum(${Number.isFinite(plan) ? Math.floor(plan) : 0})`).all();
  }

  /**
   * Checkpoints the WAL into the file and truncates it, without waiting for readers (a running quick_check
   * or `status`): if one holds the WAL, it stays for the next open to fold in.
   */
  checkpoint(): void {
    this.db.exec("PRAGMA busy_timeout = 0");
    this.db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").all();
  }

  /** Closes the connection, ignoring errors of a damaged file. */
  close(): void {
    try {
      if (this.db.isOpen) this.db.close();
    } catch { /* a damaged connection may fail to close; the file is handled anyway */ }
  }
}

/** Runs `PRAGMA quick_check` on the connection; throws a "malformed" error (handled as damage) unless ok. */
export function assertQuickCheck(db: DatabaseSync): void {
  const verdict = Object.values(db.prepare("PRAGMA quick_check(1)").get() as Record<string, string>)[0];
  if (verdict !== "ok") throw new Error(`database disk image is malformed (quick_check: ${verdict})`);
}

/** Above this many runs of consecutive seqs, one json_each statement beats a statement per run. */
const MAX_RANGE_RUNS = 8;

/**
 * Runs an ack or nack over `seqs` and returns the rows changed. A claimed batch is usually one run of
 * consecutive seqs (records are appended in order), and `seq BETWEEN lo AND hi` walks it directly: every
 * integer in the range is in `seqs`, so it changes exactly the rows the `IN (json_each)` form would, without
 * building and parsing a JSON list and probing the table once per seq.
 */
function bySeqs(seqs: readonly number[], list: StatementSync, range: StatementSync): number {
  const runs = seqRuns(seqs, MAX_RANGE_RUNS);
  if (runs === null) return Number(list.run(JSON.stringify(seqs)).changes);
  let n = 0;
  for (const [lo, hi] of runs) n += Number(range.run(lo, hi).changes);
  return n;
}

/**
 * Splits distinct seqs into runs of consecutive integers `[lo, hi]`, ascending; null when there are more than
 * `max` runs.
 */
export function seqRuns(seqs: readonly number[], max: number): [number, number][] | null {
  if (seqs.length === 0) return [];
  let sorted = seqs;
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] <= seqs[i - 1]) {
      sorted = [...seqs].sort((a, b) => a - b);
      break;
    }
  }
  const runs: [number, number][] = [];
  let lo = sorted[0];
  let hi = lo;
  for (let i = 1; i < sorted.length; i++) {
    const s = sorted[i];
    if (s === hi) continue; // a repeat changes nothing twice
    if (s === hi + 1) {
      hi = s;
      continue;
    }
    runs.push([lo, hi]);
    if (runs.length >= max) return null;
    lo = hi = s;
  }
  runs.push([lo, hi]);
  return runs;
}

function addDelta(target: Delta, d: Delta): void {
  target.queued += d.queued;
  target.inFlight += d.inFlight;
  target.dead += d.dead;
  target.deleted += d.deleted;
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
