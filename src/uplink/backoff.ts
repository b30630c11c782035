/**
 * Retry timing for the uplink, as a pure policy (injected clock and random source, no timers).
 *
 * - Retryable failures (408, 429, 5xx, network, TLS, timeout): wait `2^n + U(0,1)` seconds, n = consecutive
 *   failures (1 after the first), never more than `maxBackoffMs`.
 * - A `Retry-After` header (delta seconds or an HTTP date) replaces that wait, clamped to `[0, maxBackoffMs]`.
 * - Configuration problems (401/403/404/405/other 4xx, an endpoint that rejects every record) wait the
 *   maximum: retrying faster cannot help and only fills the cloud's logs.
 * - Drain mode ignores the schedule: it retries after a short fixed pause (so a dead server is not spun on),
 *   but still honours `Retry-After`.
 */

/** Pause between retries in drain mode when the server gave no Retry-After. */
export const DRAIN_RETRY_PAUSE_MS = 250;

// One backoff formula for machines and the uplink: `2^n + U(0,1)` s capped (src/util/backoff.ts).
import { backoffDelayMs } from "../util/backoff.ts";
export { backoffDelayMs };

/**
 * Parses a `Retry-After` header value: delta seconds (`"120"`) or an HTTP date. Returns the wait in
 * milliseconds from `nowMs` (never negative), or null when absent or unparseable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (v === "") return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** How the last attempt ended, as far as timing is concerned. */
export type AttemptEnd =
  | { readonly kind: "success" }
  | { readonly kind: "retryable"; readonly retryAfterMs: number | null }
  | { readonly kind: "config" };

/**
 * The retry schedule of one uploader: counts consecutive failures and says when the next attempt is due.
 * Pure: the caller passes the current time; nothing here sleeps.
 */
export class BackoffSchedule {
  #failures = 0;

  /**
   * @param maxBackoffMs upper bound of every wait (uplink.max_backoff)
   * @param random source of U(0,1) jitter
   */
  constructor(readonly maxBackoffMs: number, readonly random: () => number = Math.random) {}

  /** Consecutive failures so far (0 after a success). */
  get failures(): number {
    return this.#failures;
  }

  /**
   * Records how an attempt ended and returns the epoch ms when the next attempt may start.
   * @param drain drain mode: ignore the exponential schedule (Retry-After is still honoured)
   */
  next(end: AttemptEnd, nowMs: number, drain = false): number {
    if (end.kind === "success") {
      this.#failures = 0;
      return nowMs;
    }
    this.#failures++;
    if (end.kind === "config") return nowMs + this.maxBackoffMs;
    if (end.retryAfterMs !== null) return nowMs + Math.min(this.maxBackoffMs, Math.max(0, end.retryAfterMs));
    if (drain) return nowMs + Math.min(this.maxBackoffMs, DRAIN_RETRY_PAUSE_MS);
    return nowMs + backoffDelayMs(this.#failures, this.maxBackoffMs, this.random);
  }
}
