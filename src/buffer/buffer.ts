/**
 * The durable store-and-forward buffer: `<data_dir>/buffer.db`, one SQLite file in WAL mode (store.ts does
 * the SQL; this class decides when to write and what a failure means). See docs/buffer.md.
 *
 * Commit policy: `enqueue` keeps the record in memory and resolves only after the transaction holding it
 * has committed with `synchronous = FULL`. Records are group-committed: a transaction is written when
 * `commitMaxRecords` (1000) wait or `commitIntervalMs` (100 ms) after the first one arrived, whichever is
 * first. Claim, ack, nack and dead-letter run at once, each as one small transaction committed without an
 * fsync (`NORMAL`): losing one to a power cut only sends a record again, which the cloud deduplicates.
 *
 * Storage failures (disk full, read-only file, I/O error, a lock held too long) never stop the agent: SQLite
 * rolls the transaction back (the file stays consistent), CRITICAL is logged once per episode, and waiting
 * records stay in memory up to `maxPendingRecords`; past that `enqueue` rejects with BufferUnavailableError
 * and `hasRoom()` is false, so no record disappears without its caller knowing. The commit is retried with
 * backoff (100 ms doubling to `retryMaxMs`) and INFO is logged when it works again. Acks, nacks and
 * dead-letter moves that failed are kept and retried with it.
 *
 * Damage (SQLITE_CORRUPT, SQLITE_NOTADB, a failed quick_check) at open or later: the file is moved aside,
 * what SQLite can still read is salvaged into a fresh file (salvage.ts), CRITICAL names the moved file.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { getLog, type Log } from "../log/mod.ts";
import type { IdentifiedRecord, MetricValue } from "../record/mod.ts";
import {
  BufferClosedError,
  BufferFullError,
  BufferUnavailableError,
  classifySqliteError,
  errorText,
} from "./errors.ts";
import { fileBytes } from "./file_size.ts";
import { type QuickCheck, startQuickCheck } from "./quick_check.ts";
import { ClaimedSeqs } from "./claimed.ts";
import { CountThrottle, StorageEpisode, vacuumPlan } from "./policy.ts";
import { toRow } from "./row.ts";
import { moveAside, salvageInto } from "./salvage.ts";
import { assertQuickCheck, type CursorRow, type NewRow, type Op, type Row, Store } from "./store.ts";
import {
  BUFFER_FILE,
  type BufferOptions,
  type BufferStats,
  type ClaimedRecord,
  type DeadLetter,
  type RawClaimedRecord,
} from "./types.ts";

interface Pending {
  /** The record, or null for a batch with no readings that only moves a cursor. */
  readonly row: NewRow | null;
  readonly d: PromiseWithResolvers<{ inserted: boolean }>;
  /** Set on the last entry of a batch with a cursor: upserted in the transaction that writes the batch. */
  readonly cursor?: CursorRow;
}

type Settings = Required<Omit<BufferOptions, "log" | "maxPageCount">> & { maxPageCount?: number };

const DROP_WARN_INTERVAL_MS = 60_000;
const VACUUM_AFTER_DELETES = 4096;

/** The store-and-forward buffer of one data directory. Use it from the process holding the data-dir lock. */
export class TelemetryBuffer {
  readonly #path: string;
  readonly #settings: Settings;
  readonly #log: Log;
  #store: Store | null = null;
  #pending: Pending[] = [];
  #deferred: Op[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #episode: StorageEpisode;
  /** Seq of each record handed out by claim() and not yet settled. */
  readonly #claimed = new ClaimedSeqs();
  #queued = 0;
  #inFlight = 0;
  #dead = 0;
  #dropped = 0;
  #duplicates = 0;
  readonly #dropWarnings = new CountThrottle(DROP_WARN_INTERVAL_MS);
  #deletedSinceVacuum = 0;
  #check: QuickCheck | null = null;
  /** Bumped whenever the file is replaced, so a late verdict about the old file is ignored. */
  #generation = 0;

  private constructor(path: string, opts: BufferOptions) {
    this.#path = path;
    const commitMaxRecords = opts.commitMaxRecords ?? 1000;
    this.#settings = {
      maxRecords: opts.maxRecords,
      whenFull: opts.whenFull,
      commitIntervalMs: opts.commitIntervalMs ?? 100,
      commitMaxRecords,
      maxPendingRecords: opts.maxPendingRecords ?? 10 * commitMaxRecords,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      maxPageCount: opts.maxPageCount,
      quickCheck: opts.quickCheck ?? "background",
      now: opts.now ?? Date.now,
    };
    this.#log = opts.log ?? getLog("buffer");
    this.#episode = new StorageEpisode(100, this.#settings.retryMaxMs);
  }

  /**
   * Opens (creating the directory and file) `<dataDir>/buffer.db`: migrates it forward, refuses a newer
   * schema (BufferSchemaTooNewError, file untouched), replaces a damaged file (moved aside, salvaged,
   * CRITICAL), and returns every stale in-flight record to the queue.
   */
  static open(dataDir: string, opts: BufferOptions): TelemetryBuffer {
    if (!Number.isSafeInteger(opts.maxRecords) || opts.maxRecords < 1) {
      throw new RangeError(`maxRecords: expected a positive integer, got ${opts.maxRecords}`);
    }
    mkdirSync(dataDir, { recursive: true });
    const buf = new TelemetryBuffer(join(dataDir, BUFFER_FILE), opts);
    try {
      buf.#connect();
    } catch (e) {
      const kind = classifySqliteError(e);
      if (kind === "corrupt") buf.#replaceDamaged(e);
      else if (kind === "storage" || kind === "busy") buf.#failed(e); // opened later by the commit retries
      else throw e;
    }
    return buf;
  }

  /** The path of buffer.db. */
  get path(): string {
    return this.#path;
  }

  #connect(): void {
    const background = this.#settings.quickCheck === "background";
    const { store, stale } = Store.open(this.#path, this.#settings.maxPageCount, !background);
    this.#store = store;
    if (background) {
      try {
        this.#startCheck();
      } catch (e) {
        this.#log.warn(`quick_check cannot run in a worker (${errorText(e)}); running it now`);
        assertQuickCheck(store.db);
      }
    }
    if (stale > 0) {
      this.#log.info(`returned ${stale} stale in-flight records to the queue`, { path: this.#path });
    }
    this.#loadCounts();
  }

  /** The open store; throws BufferUnavailableError while storage failed before the file could be opened. */
  #openStore(): Store {
    if (this.#store) return this.#store;
    throw new BufferUnavailableError(
      `buffer file is not open yet: ${this.#episode.error ?? "unknown error"}`,
    );
  }

  #loadCounts(): void {
    const c = this.#openStore().counts();
    this.#queued = c.rows; // nothing is in flight right after open
    this.#inFlight = 0;
    this.#claimed.clear();
    this.#dead = c.dead;
    this.#dropped = Number(this.#openStore().getMeta("dropped_total") ?? 0);
    this.#duplicates = Number(this.#openStore().getMeta("duplicates_total") ?? 0);
  }

  #startCheck(): void {
    const generation = this.#generation;
    const started = performance.now();
    this.#check?.cancel();
    this.#check = startQuickCheck(this.#path, (verdict) => {
      this.#check = null;
      if (this.#closed || generation !== this.#generation) return;
      const ms = Math.round(performance.now() - started);
      if (verdict === "ok") {
        this.#log.debug(`${this.#path} passed quick_check in ${ms} ms`);
        return;
      }
      const damaged = !verdict.startsWith("error: ") || classifySqliteError(verdict) === "corrupt";
      if (!damaged) {
        this.#log.warn(`quick_check of ${this.#path} could not run (${verdict}); not checked this time`);
        return;
      }
      try {
        this.#replaceDamaged(new Error(`quick_check: ${verdict.replace(/^error: /, "")}`));
      } catch (e) {
        this.#log.critical(`buffer file ${this.#path} is damaged and could not be replaced: ${errorText(e)}`);
      }
    });
  }

  /** Moves the damaged file aside, salvages it into a fresh one, logs CRITICAL with the path. */
  #replaceDamaged(cause: unknown): void {
    this.#generation++;
    this.#check?.cancel();
    this.#check = null;
    this.#store?.close();
    this.#store = null;
    const movedTo = moveAside(this.#path, this.#settings.now());
    let salvaged = { records: 0, deadLetters: 0 };
    try {
      const { store } = Store.open(this.#path, this.#settings.maxPageCount, false);
      this.#store = store;
      try {
        salvaged = salvageInto(movedTo, store.db, this.#settings.now());
      } catch (e) {
        this.#log.error(`salvage from ${movedTo} stopped: ${errorText(e)}`);
      }
      this.#loadCounts();
    } catch (e) {
      const kind = classifySqliteError(e);
      if (kind !== "storage" && kind !== "busy") throw e;
      this.#storageFailing(e); // the fresh file is created by the commit retries
      this.#queued = this.#inFlight = this.#dead = 0;
      this.#claimed.clear();
    }
    this.#deferred = []; // they addressed rows of the old file; those rows are queued again
    this.#log.critical(
      `buffer file was damaged (${errorText(cause)}): moved it to ${movedTo}, salvaged ${salvaged.records} ` +
        `records and ${salvaged.deadLetters} dead letters into a fresh ${this.#path}`,
      { moved_to: movedTo, path: this.#path },
    );
    this.#schedule();
  }

  /**
   * Routes a failed SQLite call: storage trouble starts or continues an episode (returns true: try later),
   * damage replaces the file (returns true), anything else is rethrown.
   */
  #failed(e: unknown): true {
    const kind = classifySqliteError(e);
    if (kind === "storage" || kind === "busy") {
      this.#storageFailing(e);
      this.#schedule();
      return true;
    }
    if (kind === "corrupt") {
      try {
        this.#replaceDamaged(e);
      } catch (e2) {
        // e.g. the damaged file cannot be renamed: treat it as failing storage and try again later.
        this.#storageFailing(new Error(`damaged buffer file could not be replaced: ${errorText(e2)}`));
      }
      this.#schedule();
      return true;
    }
    throw e;
  }

  /**
   * Adds a record. Resolves once the group commit holding it is durable, with `inserted: false` when the
   * same record (same id) is already in the buffer. Rejects with BufferFullError (stop_polling, past the cap
   * plus one commit of slack), BufferUnavailableError (storage failing and the memory backlog full) or
   * BufferClosedError.
   */
  enqueue(record: IdentifiedRecord): Promise<{ inserted: boolean }> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    let row: NewRow;
    try {
      row = toRow(record);
    } catch (e) {
      return Promise.reject(e);
    }
    const d = Promise.withResolvers<{ inserted: boolean }>();
    this.#pending.push({ row, d });
    this.#added();
    return d.promise;
  }

  /** Why a new record cannot be accepted now (closed, storage failing with memory full, stop_polling full). */
  #refusal(): Error | null {
    if (this.#closed) return new BufferClosedError("buffer is closed");
    const o = this.#settings;
    if (this.#episode.active && this.#pending.length >= o.maxPendingRecords) {
      return new BufferUnavailableError(
        `buffer storage is failing (${this.#episode.error}); ${this.#pending.length} records already wait in memory`,
      );
    }
    if (
      o.whenFull === "stop_polling" &&
      this.#queued + this.#pending.length >= o.maxRecords + o.commitMaxRecords
    ) {
      return new BufferFullError(
        `buffer is full: ${this.#queued} records queued (max_records ${o.maxRecords})`,
      );
    }
    return null;
  }

  /** Commits at once when a full group waits, else schedules the group commit. */
  #added(): void {
    if (this.#pending.length >= this.#settings.commitMaxRecords && !this.#episode.active) this.#commit();
    else this.#schedule();
  }

  /**
   * Adds several records of one machine and, optionally, that machine's driver cursor (any JSON value): all of
   * them are written by one transaction, the cursor upserted in it (docs/buffer.md, "Driver cursors"), so a
   * record is reported buffered only together with the cursor that follows it. Resolves once that transaction
   * is durable, `inserted[i]` false for a record already in the buffer. Rejects as {@link enqueue} does, for
   * the whole batch.
   */
  enqueueBatch(
    records: readonly IdentifiedRecord[],
    cursor?: { readonly machineId: string; readonly value: MetricValue },
  ): Promise<{ inserted: boolean[] }> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    let rows: NewRow[];
    let cursorRow: CursorRow | undefined;
    try {
      rows = records.map(toRow);
      if (cursor) cursorRow = { machine_id: cursor.machineId, cursor: JSON.stringify(cursor.value) };
    } catch (e) {
      return Promise.reject(e);
    }
    if (rows.length === 0 && !cursorRow) return Promise.resolve({ inserted: [] });
    // The whole batch joins the pending list at once, so one #commit takes all of it (and its cursor).
    const items: Pending[] = rows.map((row) => ({ row, d: Promise.withResolvers<{ inserted: boolean }>() }));
    if (cursorRow) {
      if (items.length === 0) items.push({ row: null, d: Promise.withResolvers(), cursor: cursorRow });
      else items[items.length - 1] = { ...items[items.length - 1], cursor: cursorRow };
    }
    for (const it of items) this.#pending.push(it);
    this.#added();
    return Promise.all(items.map((it) => it.d.promise)).then((rs) => ({
      inserted: rows.length === 0 ? [] : rs.map((r) => r.inserted),
    }));
  }

  /**
   * The latest cursor handed to {@link enqueueBatch} for `machineId` (still waiting for its commit, or
   * committed), parsed; null when there is none.
   */
  cursor(machineId: string): MetricValue | null {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const c = this.#pending[i].cursor;
      if (c && c.machine_id === machineId) return JSON.parse(c.cursor);
    }
    const text = this.#openStore().getCursor(machineId);
    return text === null ? null : JSON.parse(text);
  }

  /** Commits whatever is pending now; resolves when those records are durable (or settled with an error). */
  async flush(): Promise<void> {
    const waiting = this.#pending.map((p) => p.d.promise);
    this.#commit();
    await Promise.allSettled(waiting);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    if (!this.#pending.length && !this.#deferred.length && this.#store) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#commit();
    }, this.#episode.active ? this.#episode.retryMs : this.#settings.commitIntervalMs);
  }

  /** Writes the pending records and deferred operations in one transaction. Never throws. */
  #commit(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#closed || (this.#pending.length === 0 && this.#deferred.length === 0 && this.#store)) return;
    const batch = this.#pending;
    const ops = this.#deferred;
    this.#pending = [];
    this.#deferred = [];
    const rows: NewRow[] = [];
    const cursors: CursorRow[] = [];
    for (const p of batch) {
      if (p.row) rows.push(p.row);
      if (p.cursor) cursors.push(p.cursor);
    }
    let r;
    try {
      if (!this.#store) this.#connect();
      r = this.#openStore().commit(
        ops,
        rows,
        this.#settings.now(),
        this.#queued,
        this.#settings.whenFull === "drop_oldest" ? this.#settings.maxRecords : null,
        { dropped: this.#dropped, duplicates: this.#duplicates },
        cursors,
      );
    } catch (e) {
      const kind = classifySqliteError(e);
      if (kind === "other") {
        this.#log.error(
          `buffer commit failed: ${errorText(e)}; ${batch.length} records not buffered` +
            (ops.length
              ? `; ${ops.length} acks/nacks not applied (those records are queued again at the next start)`
              : ""),
        );
        for (const p of batch) p.d.reject(e);
        return;
      }
      this.#pending = batch.concat(this.#pending);
      if (kind !== "corrupt") this.#deferred = ops.concat(this.#deferred);
      this.#failed(e);
      return;
    }
    this.#queued += r.queued;
    this.#inFlight += r.inFlight;
    this.#dead += r.dead;
    this.#duplicates += r.duplicates;
    this.#dropped += r.dropped;
    this.#deletedSinceVacuum += r.deleted;
    if (r.dropped) this.#logDropped(this.#dropWarnings.add(r.dropped, this.#settings.now()));
    this.#recovered();
    let k = 0;
    for (const p of batch) p.d.resolve({ inserted: p.row ? r.inserted[k++] : false });
    this.#maybeVacuum();
    this.#schedule();
  }

  #storageFailing(e: unknown): void {
    const msg = errorText(e);
    if (!this.#episode.fail(msg, this.#settings.now())) return;
    this.#log.critical(
      `buffer storage is failing: ${msg}; keeping up to ${this.#settings.maxPendingRecords} new records in memory ` +
        `and retrying until it works again`,
      { path: this.#path },
    );
  }

  #recovered(): void {
    const ms = this.#episode.recover(this.#settings.now());
    if (ms !== null) {
      this.#log.info(`buffer storage works again after ${(ms / 1000).toFixed(1)}s`, { path: this.#path });
    }
  }

  #logDropped(n: number | null): void {
    if (!n) return;
    this.#log.warn(
      `buffer full (max_records ${this.#settings.maxRecords}): dropped the ${n} oldest queued records ` +
        `(${this.#dropped} dropped in total)`,
      { dropped: n, dropped_total: this.#dropped },
    );
  }

  /** Runs an operation now, or keeps it for the next commit while storage fails. */
  #run(op: Op): void {
    if (this.#closed) throw new BufferClosedError("buffer is closed");
    let d;
    try {
      d = this.#openStore().apply([op], this.#settings.now());
    } catch (e) {
      if (classifySqliteError(e) !== "corrupt") this.#deferred.push(op);
      this.#failed(e);
      return;
    }
    this.#inFlight += d.inFlight;
    this.#queued += d.queued;
    this.#dead += d.dead;
    this.#deletedSinceVacuum += d.deleted;
    this.#maybeVacuum();
  }

  /**
   * Atomically moves up to `n` of the oldest queued records (enqueue order) to in-flight and returns them.
   * Returns [] while storage fails.
   */
  claim(n: number): ClaimedRecord[] {
    const raw = this.claimRaw(n);
    const out: ClaimedRecord[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i];
      out[i] = {
        id: r.id,
        machine_id: r.machine_id,
        ts: r.ts,
        metrics: JSON.parse(r.metricsJson),
        attempts: r.attempts,
      };
    }
    return out;
  }

  /**
   * {@link claim} without parsing the metrics: each record carries them as the stored JSON text
   * (`metricsJson`, made by `JSON.stringify` at enqueue), which the uplink splices into its request body.
   */
  claimRaw(n: number): RawClaimedRecord[] {
    if (this.#closed) throw new BufferClosedError("buffer is closed");
    if (!(n >= 1)) return [];
    if (!this.#store) return [];
    let rows: Row[];
    try {
      rows = this.#store.claim(Math.floor(n));
    } catch (e) {
      this.#failed(e);
      return [];
    }
    this.#queued -= rows.length;
    this.#inFlight += rows.length;
    const ids: string[] = new Array(rows.length);
    const seqs: number[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      ids[i] = rows[i].id;
      seqs[i] = rows[i].seq;
    }
    this.#claimed.add(ids, seqs);
    return rows; // a Row is a RawClaimedRecord (plus its seq): no copy per record
  }

  /** Deletes delivered records. Ids not currently claimed from this buffer are ignored. */
  ack(ids: readonly string[]): void {
    const seqs = this.#claimed.take(ids);
    if (seqs.length) this.#run({ kind: "ack", seqs });
  }

  /** Returns claimed records to the queue, keeping their place, with attempts + 1. */
  nack(ids: readonly string[]): void {
    const seqs = this.#claimed.take(ids);
    if (seqs.length) this.#run({ kind: "nack", seqs });
  }

  /** Moves claimed records the cloud rejected to the dead_letter table with the reason and the time. */
  deadLetter(items: readonly { id: string; reason: string }[]): void {
    const out: { seq: number; reason: string }[] = [];
    for (const it of items) {
      const [seq] = this.#claimed.take([it.id]);
      if (seq !== undefined) out.push({ seq, reason: it.reason });
    }
    if (out.length) this.#run({ kind: "dead", items: out });
  }

  /** False while when_full = stop_polling and the queue is at max_records, or storage fails with memory full. */
  hasRoom(): boolean {
    if (this.#episode.active && this.#pending.length >= this.#settings.maxPendingRecords) return false;
    return this.#settings.whenFull !== "stop_polling" ||
      this.#queued + this.#pending.length < this.#settings.maxRecords;
  }

  /** Current counts (kept in memory) with the oldest queued ts and the file size. */
  stats(): BufferStats {
    let oldest: number | null = null;
    try {
      oldest = this.#store?.oldestQueuedTs() ?? null;
    } catch { /* storage trouble: unknown for now */ }
    return {
      queued: this.#queued,
      in_flight: this.#inFlight,
      dead_letter: this.#dead,
      dropped_total: this.#dropped,
      duplicates_total: this.#duplicates,
      oldest_queued_ts: oldest,
      file_bytes: fileBytes(this.#path),
      pending: this.#pending.length,
      storage_error: this.#episode.error,
    };
  }

  /**
   * Caps the file at `pages` pages (SQLite `max_page_count`; null lifts the cap). Writes past the cap fail
   * like a full disk: an operator quota, and how tests fill and free the "disk".
   */
  setMaxPageCount(pages: number | null): void {
    this.#settings.maxPageCount = pages ?? undefined;
    this.#store?.setMaxPageCount(pages);
  }

  /** Pages the file has now. */
  pageCount(): number {
    return this.#openStore().pageCount();
  }

  /** Reads a small persisted value (null when absent). */
  getMeta(key: string): string | null {
    return this.#openStore().getMeta(key);
  }

  /** Writes a small persisted value, in its own transaction. */
  setMeta(key: string, value: string): void {
    this.#openStore().setMeta(key, value);
  }

  /** The dead letters, oldest first (at most `limit`). */
  listDeadLetters(limit = Number.MAX_SAFE_INTEGER): DeadLetter[] {
    return this.#openStore().listDeadLetters(limit);
  }

  /** Moves every dead letter back to the queue (attempts 0). Returns how many dead letters were moved. */
  requeueDeadLetters(): number {
    const [moved, queued] = this.#openStore().requeueDeadLetters(this.#settings.now());
    this.#queued += queued;
    this.#dead -= moved;
    return moved;
  }

  /**
   * Deletes the queued records with these keys (their ts and id), for `export --remove` once the export file
   * is verified; records in flight stay with the uploader. Returns how many were deleted. Throws SQLite's
   * error while storage fails (nothing deleted then).
   */
  removeQueued(keys: readonly { ts: number; id: string }[]): number {
    if (this.#closed) throw new BufferClosedError("buffer is closed");
    const n = this.#openStore().removeQueued(keys);
    this.#queued -= n;
    this.#deletedSinceVacuum += n;
    this.#maybeVacuum();
    return n;
  }

  /** Deletes every dead letter for good. Returns how many. */
  purgeDeadLetters(): number {
    const n = this.#openStore().purgeDeadLetters();
    this.#dead -= n;
    this.#deletedSinceVacuum += n;
    this.#maybeVacuum();
    return n;
  }

  /**
   * Returns free space to the file system by {@link vacuumPlan}: looked at after every
   * `VACUUM_AFTER_DELETES` deleted rows, and whenever deletions left the queue empty.
   */
  #maybeVacuum(): void {
    if (this.#deletedSinceVacuum === 0) return;
    const empty = this.#queued === 0 && this.#inFlight === 0;
    if (!empty && this.#deletedSinceVacuum < VACUUM_AFTER_DELETES) return;
    this.#deletedSinceVacuum = 0;
    try {
      const store = this.#store;
      if (!store) return;
      const { free, pages } = store.space();
      store.vacuum(vacuumPlan(free, pages, empty));
    } catch { /* space comes back on a later try */ }
  }

  /**
   * Commits what is pending, returns free space to the file system, checkpoints and closes. Records that
   * still cannot be written (storage failing) are rejected with BufferUnavailableError and counted in an
   * ERROR line.
   */
  // deno-lint-ignore require-await
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#commit();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closed = true;
    this.#check?.cancel();
    this.#check = null;
    this.#logDropped(this.#dropWarnings.drain());
    const lost = this.#pending;
    this.#pending = [];
    if (lost.length) {
      this.#log.error(
        `buffer closed while storage was failing (${this.#episode.error}): ${lost.length} records were not buffered`,
      );
      const err = new BufferUnavailableError("buffer closed before the record could be written");
      for (const p of lost) p.d.reject(err);
    }
    try {
      const store = this.#store;
      if (store) {
        const { free, pages } = store.space();
        store.vacuum(vacuumPlan(free, pages, this.#queued === 0 && this.#inFlight === 0, true));
        store.checkpoint();
      }
    } catch { /* the next open recovers from the WAL */ }
    this.#store?.close();
    this.#store = null;
  }
}
