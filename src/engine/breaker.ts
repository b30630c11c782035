/**
 * Circuit breaker for one machine (pure: time is passed in by the caller, nothing is read from a clock).
 *
 * ```
 *   closed --(threshold consecutive failures)--> open --(cooldown elapsed, tryAcquire)--> half_open
 *     ^                                          ^                                          |
 *     |                                          +------------(probe fails: reopen)---------+
 *     +----------------------(probe succeeds: close, failures reset)------------------------+
 * ```
 *
 * - `closed`: attempts are allowed; each failure counts, a success resets the count.
 * - `open`: no attempt until `openUntil` (= time of the opening failure + cooldown).
 * - `half_open`: exactly one attempt (the probe) is handed out by {@link CircuitBreaker.tryAcquire}; its
 *   outcome closes the breaker or reopens it for another full cooldown.
 *
 * Robustness: an outcome recorded while `open` (an attempt that was not acquired) is treated like a probe
 * outcome, so the breaker never gets stuck whatever order the caller uses.
 */

/** The three breaker states. */
export type BreakerState = "closed" | "open" | "half_open";

/** What a recorded outcome or an acquisition changed. `null` when the state stayed the same. */
export type BreakerTransition = "opened" | "reopened" | "closed" | null;

/** Breaker parameters (from `breaker_threshold` and `breaker_cooldown`). */
export interface BreakerPolicy {
  /** Consecutive failures that open the breaker; an integer >= 1. */
  threshold: number;
  /** How long the breaker stays open before a probe, in milliseconds; >= 0. */
  cooldownMs: number;
}

/** A per-machine circuit breaker driven by explicit timestamps (epoch milliseconds). */
export class CircuitBreaker {
  #policy: BreakerPolicy;
  #state: BreakerState = "closed";
  #failures = 0;
  #openUntil: number | null = null;
  #probeOut = false;

  /**
   * @throws RangeError when the threshold is not an integer >= 1 or the cooldown is negative or not finite
   */
  constructor(policy: BreakerPolicy) {
    if (!Number.isInteger(policy.threshold) || policy.threshold < 1) {
      throw new RangeError(`breaker threshold: expected an integer >= 1, received ${policy.threshold}`);
    }
    if (!Number.isFinite(policy.cooldownMs) || policy.cooldownMs < 0) {
      throw new RangeError(`breaker cooldown: expected milliseconds >= 0, received ${policy.cooldownMs}`);
    }
    this.#policy = { ...policy };
  }

  /** The current state (changes only through the methods below, never by itself). */
  get state(): BreakerState {
    return this.#state;
  }

  /** Failures in a row since the last success (keeps counting while open). */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** When the breaker is `open`: the epoch ms from which the probe may be acquired; otherwise `null`. */
  get openUntil(): number | null {
    return this.#state === "open" ? this.#openUntil : null;
  }

  /** Whether a probe has been handed out and its outcome is still awaited. */
  get probeInFlight(): boolean {
    return this.#probeOut;
  }

  /**
   * Asks to start an attempt at `now`. Always true when closed. When open and the cooldown has elapsed the
   * breaker goes `half_open` and returns true once (the probe); further calls return false until the probe's
   * outcome is recorded. False while open before the cooldown has elapsed.
   */
  tryAcquire(now: number): boolean {
    switch (this.#state) {
      case "closed":
        return true;
      case "open":
        if (this.#openUntil !== null && now >= this.#openUntil) {
          this.#state = "half_open";
          this.#openUntil = null;
          this.#probeOut = true;
          return true;
        }
        return false;
      case "half_open":
        if (this.#probeOut) return false;
        this.#probeOut = true;
        return true;
    }
  }

  /** Records a successful attempt: resets the failure count and closes the breaker. */
  recordSuccess(_now: number): BreakerTransition {
    const was = this.#state;
    this.#failures = 0;
    this.#state = "closed";
    this.#openUntil = null;
    this.#probeOut = false;
    return was === "closed" ? null : "closed";
  }

  /**
   * Records a failed attempt at `now`. Opens the breaker when the count reaches the threshold while closed
   * ("opened"), or reopens it for a new cooldown from `now` when the failure was the probe ("reopened").
   */
  recordFailure(now: number): BreakerTransition {
    this.#failures += 1;
    this.#probeOut = false;
    if (this.#state === "closed") {
      if (this.#failures < this.#policy.threshold) return null;
      this.#state = "open";
      this.#openUntil = now + this.#policy.cooldownMs;
      return "opened";
    }
    this.#state = "open";
    this.#openUntil = now + this.#policy.cooldownMs;
    return "reopened";
  }
}
