/**
 * Retry backoff after failed polls (pure: the random source is injected).
 *
 * After the n-th consecutive failure (n >= 1) the next attempt waits `2^n s + U(0,1) s`, capped at `maxMs`:
 * the first retry waits 2..3 s, the second 4..5 s, the fifth 32..33 s, and from about the ninth on the cap
 * (300 s by default). The jitter spreads the retries of machines that failed together (a switch reboot)
 * so they do not all come back in the same millisecond. The counter is reset by the caller on success.
 */

/** Milliseconds in one second, the unit of the `2^n` base. */
const SECOND_MS = 1000;

/**
 * The wait before the next attempt after `consecutiveFailures` failures in a row, in whole milliseconds:
 * `min(maxMs, 2^n * 1000 + floor(random() * 1000))` with n = `consecutiveFailures`.
 *
 * @param consecutiveFailures failures in a row including the one just seen; an integer >= 1
 * @param maxMs upper bound of the wait (for example `max_backoff`), >= 1
 * @param random a source of numbers in [0, 1) such as `Math.random`; values outside are clamped
 * @throws RangeError when `consecutiveFailures` is not an integer >= 1 or `maxMs` is below 1
 */
export function backoffDelayMs(consecutiveFailures: number, maxMs: number, random: () => number): number {
  if (!Number.isInteger(consecutiveFailures) || consecutiveFailures < 1) {
    throw new RangeError(`consecutiveFailures: expected an integer >= 1, received ${consecutiveFailures}`);
  }
  if (!(maxMs >= 1)) {
    throw new RangeError(`maxMs: expected a number of milliseconds >= 1, received ${maxMs}`);
  }
  const cap = Math.floor(maxMs);
  // 2^n overflows to Infinity for huge n, and Math.min then picks the cap: no special case needed.
  const base = 2 ** consecutiveFailures * SECOND_MS;
  if (base >= cap) return cap;
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.min(cap, base + Math.floor(unit * SECOND_MS));
}

/** The `[min, max]` range in milliseconds that {@link backoffDelayMs} can return for these arguments. */
export function backoffBoundsMs(consecutiveFailures: number, maxMs: number): [number, number] {
  const cap = Math.floor(maxMs);
  const base = 2 ** consecutiveFailures * SECOND_MS;
  return [Math.min(cap, base), Math.min(cap, base + SECOND_MS)];
}
