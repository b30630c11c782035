/**
 * Pure policies of the buffer, driven by an injected clock (the caller passes `now`):
 * - {@link StorageEpisode}: storage failing from the first error to the next success. CRITICAL is logged once
 *   per episode; retries back off from 100 ms, doubling, to a cap.
 * - {@link CountThrottle}: sums counts (dropped records) and releases the sum at most once per interval, so a
 *   full buffer logs one WARN a minute instead of one per commit.
 * - {@link vacuumPlan}: when to return free pages to the file system, and how.
 */

/** A storage failure episode and its retry delay. */
export class StorageEpisode {
  #current: { since: number; error: string } | null = null;
  #retryMs: number;

  /** @param firstRetryMs first retry delay, @param maxRetryMs longest retry delay */
  constructor(readonly firstRetryMs: number, readonly maxRetryMs: number) {
    this.#retryMs = firstRetryMs;
  }

  /** Whether storage is failing now. */
  get active(): boolean {
    return this.#current !== null;
  }

  /** The latest error of the episode, or null. */
  get error(): string | null {
    return this.#current?.error ?? null;
  }

  /** How long to wait before the next retry. */
  get retryMs(): number {
    return this.#retryMs;
  }

  /** Records a failure. True when it starts a new episode (the moment to log CRITICAL). */
  fail(error: string, now: number): boolean {
    if (this.#current) {
      this.#current.error = error;
      this.#retryMs = Math.min(this.#retryMs * 2, this.maxRetryMs);
      return false;
    }
    this.#current = { since: now, error };
    this.#retryMs = this.firstRetryMs;
    return true;
  }

  /** Records a success. Returns how long the episode lasted (ms), or null when none was active. */
  recover(now: number): number | null {
    if (!this.#current) return null;
    const ms = now - this.#current.since;
    this.#current = null;
    this.#retryMs = this.firstRetryMs;
    return ms;
  }
}

/** Sums counts and releases the sum at most once per `intervalMs`. */
export class CountThrottle {
  #held = 0;
  #last = -Infinity;

  /** @param intervalMs shortest time between two releases */
  constructor(readonly intervalMs: number) {}

  /** Adds `n`; returns the sum to report now, or null while the interval has not passed. */
  add(n: number, now: number): number | null {
    this.#held += n;
    if (this.#held === 0 || now - this.#last < this.intervalMs) return null;
    const sum = this.#held;
    this.#held = 0;
    this.#last = now;
    return sum;
  }

  /** Returns what is held back (and forgets it), whatever the interval. */
  drain(): number {
    const sum = this.#held;
    this.#held = 0;
    return sum;
  }
}

/** Pages (4 KiB) returned per incremental-vacuum step while records are still queued: 16 MiB. */
export const VACUUM_STEP_PAGES = 4096;
/** Free pages below which a vacuum is not worth its cost while records are queued (8 MiB). */
export const VACUUM_MIN_FREE_PAGES = 2048;
/** Free pages worth returning once the queue is empty (1 MiB). */
export const VACUUM_MIN_FREE_WHEN_EMPTY = 256;
/** Live pages up to which a full `VACUUM` (it copies the live pages, in memory) replaces incremental steps. */
export const REBUILD_MAX_LIVE_PAGES = 2048;

/**
 * What to do about free pages: `"none"`; a number of pages for `PRAGMA incremental_vacuum(n)` (`Infinity`:
 * all); or `"rebuild"`: a full `VACUUM`, whose cost is the live pages alone.
 *
 * `incremental_vacuum` truncates the file's last pages, moving each live one into a free slot lower down and
 * searching the free list for each free one: 12,000 free pages took 150 ms, `VACUUM` of the same empty file
 * 0.4 ms. And while a backlog drains, the free pages are at the front (oldest records first) and the live
 * ones at the end, so vacuuming in the middle of a drain copies the remaining backlog again and again (it
 * cost ~1.5 us per drained record). Free pages left in the file are reused by new records, so the file never
 * grows past its largest backlog; returning them can wait until the backlog is (nearly) gone:
 * - queue empty (nothing queued or in flight) with at least 1 MiB free;
 * - records queued, at least 8 MiB free and at most a sixteenth of the file live;
 * - `force` (close): whenever anything is free.
 * Then: rebuild when at most 8 MiB is live (dead letters, the small tables, a short queue), else (and always
 * on close) incremental steps, 16 MiB per look (all at close).
 */
export function vacuumPlan(
  freePages: number,
  totalPages: number,
  queueEmpty: boolean,
  force = false,
): "none" | "rebuild" | number {
  const live = totalPages - freePages;
  const small = live <= REBUILD_MAX_LIVE_PAGES;
  if (force) return freePages === 0 ? "none" : small ? "rebuild" : Infinity;
  const worth = queueEmpty
    ? freePages >= VACUUM_MIN_FREE_WHEN_EMPTY
    : freePages >= VACUUM_MIN_FREE_PAGES && freePages >= 15 * live;
  if (!worth) return "none";
  return small ? "rebuild" : VACUUM_STEP_PAGES;
}
