/**
 * Corrupt buffer files: move aside, salvage, start fresh.
 *
 * The damaged file (with its `-wal`, which holds the latest commits) is renamed to
 * `buffer.db.corrupt-<UTC time>` (and `...-wal`), so SQLite still pairs them and a person can inspect both.
 * Then every row SQLite can still read is copied into the fresh file: the queue is read in `seq` ranges
 * without its indexes, and a range that fails is split in halves down to single rows, so one bad page
 * costs only the rows on it. A row is kept only if its content still hashes to its id. Salvaged records
 * are queued again (in-flight claims died with the old file).
 */
import { DatabaseSync } from "node:sqlite";
import { existsSync, renameSync, rmSync } from "node:fs";
import { recordId } from "../record/mod.ts";
import type { NewRow } from "./store.ts";

/** What {@link moveAside} and {@link salvageInto} did. */
export interface SalvageResult {
  /** Where the damaged file now is. */
  readonly movedTo: string;
  /** Queue rows copied into the fresh file. */
  readonly records: number;
  /** Dead letters copied. */
  readonly deadLetters: number;
}

/** Renames `path` (and its -wal) to `path.corrupt-<time>`; deletes its -shm. Returns the new path. */
export function moveAside(path: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  let target = `${path}.corrupt-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${path}.corrupt-${stamp}-${i}`;
  renameSync(path, target);
  if (existsSync(`${path}-wal`)) renameSync(`${path}-wal`, `${target}-wal`);
  rmSync(`${path}-shm`, { force: true });
  return target;
}

/** A row as read from a damaged file: the columns of NewRow (store.ts) plus its order and attempts. */
interface Row extends NewRow {
  readonly seq: number;
  readonly attempts: number;
}

function intact(r: Row): boolean {
  try {
    if (typeof r.id !== "string" || typeof r.machine_id !== "string" || typeof r.metrics !== "string") {
      return false;
    }
    return recordId({ machine_id: r.machine_id, ts: Number(r.ts), metrics: JSON.parse(r.metrics) }) === r.id;
  } catch {
    return false;
  }
}

function openDamaged(path: string): DatabaseSync | null {
  for (const readOnly of [true, false]) {
    try {
      const db = new DatabaseSync(path, { readOnly });
      db.prepare("SELECT count(*) FROM sqlite_schema").get();
      return db;
    } catch { /* try the next way, or give up */ }
  }
  return null;
}

/** Reads rows of `table` with seq in [lo, hi), splitting failing ranges; calls `take` for each good row. */
function readRange(
  db: DatabaseSync,
  table: string,
  cols: string,
  lo: number,
  hi: number,
  take: (r: Row) => void,
) {
  const stmt = db.prepare(`SELECT ${cols} FROM ${table} NOT INDEXED WHERE seq >= ? AND seq < ? ORDER BY seq`);
  const stack: [number, number][] = [[lo, hi]];
  while (stack.length) {
    const [a, b] = stack.pop()!;
    let rows: Row[];
    try {
      rows = stmt.all(a, b) as unknown as Row[];
    } catch {
      if (b - a <= 1) continue;
      const mid = a + Math.floor((b - a) / 2);
      stack.push([mid, b], [a, mid]);
      continue;
    }
    rows.forEach(take);
  }
}

/** The largest seq SQLite can find (0 when none): max() first, else a scan of the readable rows. */
function maxSeq(db: DatabaseSync, table: string): number {
  try {
    const r = db.prepare(`SELECT max(seq) AS m FROM ${table}`).get() as { m: number | null } | undefined;
    return Number(r?.m ?? 0);
  } catch { /* the right edge of the table is damaged: scan what can be read */ }
  let m = 0;
  try {
    for (
      const r of db.prepare(`SELECT seq AS m FROM ${table} NOT INDEXED`).iterate() as Iterable<{ m: number }>
    ) {
      m = Math.max(m, Number(r.m));
    }
  } catch { /* stopped at the damage; rows past it are found by the open-ended range */ }
  return m;
}

/** Ranges covering every possible seq: chunks up to `top`, then one open-ended range past it. */
function ranges(top: number, chunk: number): [number, number][] {
  const out: [number, number][] = [];
  for (let lo = 0; lo <= top; lo += chunk) out.push([lo, lo + chunk]);
  out.push([out.length * chunk, Number.MAX_SAFE_INTEGER]);
  return out;
}

/**
 * Copies what SQLite can read from the damaged file at `damagedPath` into `fresh` (an open, migrated, empty
 * buffer). Never throws for damage; returns counts.
 */
export function salvageInto(
  damagedPath: string,
  fresh: DatabaseSync,
  now: number,
): Omit<SalvageResult, "movedTo"> {
  const old = openDamaged(damagedPath);
  if (!old) return { records: 0, deadLetters: 0 };
  let records = 0;
  let deadLetters = 0;
  try {
    fresh.exec("BEGIN IMMEDIATE");
    const ins = fresh.prepare(
      "INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, attempts, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const CHUNK = 4096;
    for (const [lo, hi] of ranges(maxSeq(old, "telemetry_buffer"), CHUNK)) {
      readRange(old, "telemetry_buffer", "seq, id, machine_id, ts, metrics, attempts", lo, hi, (r) => {
        // Pages carry no checksums: a damaged cell can read as wrong data. Keep a row only if its content
        // still hashes to its id, so salvage never invents a record.
        if (!intact(r)) return;
        records += Number(ins.run(r.id, r.machine_id, r.ts, r.metrics, Number(r.attempts) || 0, now).changes);
      });
    }
    try {
      const dl = fresh.prepare(
        "INSERT OR IGNORE INTO dead_letter(id, machine_id, ts, metrics, attempts, reason, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      for (const [lo, hi] of ranges(maxSeq(old, "dead_letter"), CHUNK)) {
        readRange(
          old,
          "dead_letter",
          "seq, id, machine_id, ts, metrics, attempts, reason, dead_at",
          lo,
          hi,
          (r) => {
            const d = r as Row & { reason: string; dead_at: number };
            if (!intact(d) || typeof d.reason !== "string") return;
            deadLetters += Number(
              dl.run(d.id, d.machine_id, d.ts, d.metrics, d.attempts, d.reason, d.dead_at).changes,
            );
          },
        );
      }
    } catch { /* an older schema without dead letters, or an unreadable table */ }
    try {
      const setMeta = fresh.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
      for (const r of old.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[]) {
        setMeta.run(r.key, r.value);
      }
    } catch { /* counters lost with the damaged page */ }
    fresh.exec("COMMIT");
  } catch (e) {
    if (fresh.isTransaction) fresh.exec("ROLLBACK");
    throw e;
  } finally {
    old.close();
  }
  return { records, deadLetters };
}
