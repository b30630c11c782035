/**
 * Pure policies of the buffer, driven by an injected clock (the caller passes `now`):
 * - {@link StorageEpisode}: storage failing from the first error to the next success. CRITICAL is logged once
 *   per episode; retries back off from 100 ms, doubling, to a cap.
 * - {@link CountThrottle}: sums counts (dropped records) and releases the sum at most once per interval, so a
 *   full buffer logs one WARN a minute instead of one per commit.
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
