/**
 * Fixed-cadence scheduling for one machine (pure: times are passed in as epoch milliseconds).
 *
 * Each machine has a grid of slots `anchor + k * interval` (k an integer). The anchor is the agent's start
 * time plus the machine's phase, and phases are spread over the first interval ({@link spreadPhaseMs} or
 * {@link randomPhaseMs}) so that 100 machines at 1 s start 10 ms apart instead of all together.
 *
 * After a poll that started at `startedAt` and finished at `finishedAt`, the next poll is due at the first
 * slot `s` with
 *
 * - `s > finishedAt` (never in the past: slots missed while a poll ran long are skipped, not caught up), and
 * - `s >= startedAt + interval - grace` (two polls never start closer than `interval - grace`).
 *
 * `grace` absorbs timer jitter: a poll that starts at most `grace` after its slot is "on time" and the next one
 * is the very next slot, so the cadence does not drift. A poll that starts later than that skips the next
 * slot, so the gap to the following poll stays above one full interval: a late poll never causes a burst.
 */

/** The default lateness tolerance: a quarter of the interval, at most 250 ms. */
export function defaultGraceMs(intervalMs: number): number {
  return Math.min(Math.floor(intervalMs / 4), 250);
}

function checkInterval(intervalMs: number): void {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new RangeError(`interval: expected a positive number of milliseconds, received ${intervalMs}`);
  }
}

/**
 * The phase of machine `index` of `count` machines: `floor(index * interval / count)`, so the first polls are
 * evenly spread over one interval and the result is the same on every start (deterministic).
 *
 * @throws RangeError when `count` < 1, `index` is outside `[0, count)`, or the interval is not positive
 */
export function spreadPhaseMs(index: number, count: number, intervalMs: number): number {
  checkInterval(intervalMs);
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`count: expected an integer >= 1, received ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`index: expected an integer in [0, ${count}), received ${index}`);
  }
  return Math.floor((index * intervalMs) / count);
}

/** A random phase in `[0, interval)` whole milliseconds from `random` (values in [0, 1), clamped). */
export function randomPhaseMs(intervalMs: number, random: () => number): number {
  checkInterval(intervalMs);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.min(Math.floor(unit * intervalMs), Math.ceil(intervalMs) - 1);
}

/** The first slot `anchor + k * interval` that is strictly after `afterMs`. */
export function nextSlotAfter(anchorMs: number, intervalMs: number, afterMs: number): number {
  checkInterval(intervalMs);
  const k = Math.floor((afterMs - anchorMs) / intervalMs) + 1;
  let s = anchorMs + k * intervalMs;
  // Guard against floating point rounding for non-integer inputs.
  while (s <= afterMs) s += intervalMs;
  while (s - intervalMs > afterMs) s -= intervalMs;
  return s;
}

/** The first slot `anchor + k * interval` that is at or after `atLeastMs`. */
export function firstSlotAtOrAfter(anchorMs: number, intervalMs: number, atLeastMs: number): number {
  checkInterval(intervalMs);
  const k = Math.ceil((atLeastMs - anchorMs) / intervalMs);
  let s = anchorMs + k * intervalMs;
  while (s < atLeastMs) s += intervalMs;
  while (s - intervalMs >= atLeastMs) s -= intervalMs;
  return s;
}

/** Inputs of {@link nextDueAfterPoll}. */
export interface PollTiming {
  /** The grid origin: agent start + phase (epoch ms). */
  anchorMs: number;
  /** The machine's polling interval in ms, > 0. */
  intervalMs: number;
  /** When the poll that just ended started (epoch ms). */
  startedAt: number;
  /** When it ended (epoch ms), >= `startedAt`. */
  finishedAt: number;
  /** Lateness tolerance in ms, default {@link defaultGraceMs}; clamped to `[0, interval / 2]`. */
  graceMs?: number;
}

/** When the next regular poll is due after a completed poll (see the module comment for the rule). */
export function nextDueAfterPoll(t: PollTiming): number {
  checkInterval(t.intervalMs);
  const raw = t.graceMs ?? defaultGraceMs(t.intervalMs);
  const grace = Math.min(Math.max(raw, 0), t.intervalMs / 2);
  const byGap = firstSlotAtOrAfter(t.anchorMs, t.intervalMs, t.startedAt + t.intervalMs - grace);
  const byEnd = nextSlotAfter(t.anchorMs, t.intervalMs, Math.max(t.finishedAt, t.startedAt));
  return Math.max(byGap, byEnd);
}
