/**
 * Per-machine supervision state (pure: the caller passes every timestamp and injects the random source).
 *
 * Combines the fixed-cadence {@link nextDueAfterPoll scheduler}, the {@link backoffDelayMs backoff} and the
 * {@link CircuitBreaker circuit breaker} into the machine states shown by `status`:
 *
 * ```
 * STARTING --success--> OK <------------------success-------------------+
 *    |                  |  ^                                             |
 *  failure           failure  \--success--                               |
 *    v                  v      \                                          |
 *  BACKOFF --(threshold consecutive failures)--> CRITICAL --cooldown, beginAttempt--> PROBING
 *    (retry after 2^n s + U(0,1) s, capped)        ^  (breaker open)                     |
 *                                                 +------------failure (reopen)---------+
 * ```
 *
 * How the run loop drives one machine:
 * 1. wait until {@link MachineSupervisor.nextAttemptAt};
 * 2. call {@link MachineSupervisor.beginAttempt} (false: do not poll, wait again; true: poll now);
 * 3. report the outcome with {@link MachineSupervisor.onSuccess} or {@link MachineSupervisor.onFailure} and act
 *    on the returned events (log `breaker_open` as CRITICAL, `breaker_closed` as INFO, buffer an availability
 *    record for each `availability` event).
 *
 * Step 2 is optional for correctness (without it the attempt is assumed to have started at its due time and the
 * probe is not shown as PROBING while it runs), but calling it gives exact no-burst spacing and the PROBING state.
 *
 * Rules:
 * - Successful polls follow the machine's own grid `start + phase + k * interval`; slots missed while a poll ran
 *   long or started late are skipped, never caught up.
 * - After the n-th consecutive failure below the threshold the next attempt is `now + backoffDelayMs(n)`.
 * - At `breakerThreshold` consecutive failures the breaker opens: state CRITICAL, next attempt after
 *   `breakerCooldownMs`, which is one probe (PROBING). Success closes the breaker (OK, `breaker_closed`);
 *   failure reopens it for another cooldown (CRITICAL, `breaker_open` with `reopened: true`).
 * - Availability events are emitted only on change. A success makes the machine AVAILABLE; it becomes
 *   UNAVAILABLE only at `availabilityAfter` consecutive failures or when the breaker opens (whichever is
 *   first), so a flaky machine does not flap. The first change after construction always emits one (the
 *   previous run's availability is not known).
 * - Events of one call come in order: breaker event first, then availability.
 * - `last_error` keeps the most recent failure message even after a success (compare with `last_success_ts`).
 */
import { backoffDelayMs } from "../util/backoff.ts";
import { CircuitBreaker } from "./breaker.ts";
import { nextDueAfterPoll, randomPhaseMs } from "./scheduler.ts";

/** Machine states as shown by `status`. */
export type MachineState = "STARTING" | "OK" | "BACKOFF" | "CRITICAL" | "PROBING" | "STOPPED";

/** Every machine state, in display order. */
export const MACHINE_STATES: readonly MachineState[] = [
  "STARTING",
  "OK",
  "BACKOFF",
  "CRITICAL",
  "PROBING",
  "STOPPED",
];

/** The supervision parameters of one machine (the same names as the parsed machine config). */
export interface MachinePolicy {
  /** Polling interval in ms, > 0. */
  intervalMs: number;
  /** Cap of the retry backoff in ms, >= 1. */
  maxBackoffMs: number;
  /** Consecutive failures that open the breaker, an integer >= 1. */
  breakerThreshold: number;
  /** How long the breaker stays open before the probe, in ms, >= 0. */
  breakerCooldownMs: number;
  /**
   * Consecutive failures after which the machine is UNAVAILABLE (default 1: every failure); the breaker
   * opening marks it UNAVAILABLE too, whichever comes first. One failed poll of a flaky machine is no outage.
   */
  availabilityAfter?: number;
  /** Lateness tolerance of the scheduler in ms (default: a quarter of the interval, at most 250 ms). */
  graceMs?: number;
}

/** Machine availability as buffered in `metrics.availability`. */
export type Availability = "AVAILABLE" | "UNAVAILABLE";

/** Something the run loop must log or record, returned by the outcome methods. */
export type SupervisorEvent =
  | {
    type: "breaker_open";
    machineId: string;
    lastError: string;
    cooldownMs: number;
    consecutiveFailures: number;
    /** True when a failed probe reopened the breaker, false when the threshold was first reached. */
    reopened: boolean;
  }
  | { type: "breaker_closed"; machineId: string }
  | { type: "availability"; machineId: string; availability: Availability; reason: string | null };

/** The per-machine fields of `status --json` (the caller adds `driver`). Timestamps are epoch ms. */
export interface MachineSnapshot {
  id: string;
  state: MachineState;
  consecutive_failures: number;
  last_success_ts: number | null;
  last_error: string | null;
  next_attempt_ts: number | null;
  polls_total: number;
  failures_total: number;
}

/** Construction options of {@link MachineSupervisor}. */
export interface SupervisorOptions {
  /** The current time (epoch ms): the agent's start. */
  now: number;
  /** Random source in [0, 1) for the backoff jitter (and the phase when `phaseMs` is absent). */
  random: () => number;
  /** Delay of the first poll after `now` in ms; default a random phase in `[0, interval)`. */
  phaseMs?: number;
  /** Totals restored from a previous run. */
  counters?: { polls_total: number; failures_total: number };
  /** Last success restored from a previous run (epoch ms). */
  lastSuccessTs?: number | null;
}

function checkPolicy(p: MachinePolicy): void {
  if (!Number.isFinite(p.intervalMs) || p.intervalMs <= 0) {
    throw new RangeError(`intervalMs: expected a positive number, received ${p.intervalMs}`);
  }
  if (!(p.maxBackoffMs >= 1)) {
    throw new RangeError(`maxBackoffMs: expected a number >= 1, received ${p.maxBackoffMs}`);
  }
  if (
    p.availabilityAfter !== undefined && !(Number.isInteger(p.availabilityAfter) && p.availabilityAfter >= 1)
  ) {
    throw new RangeError(`availabilityAfter: expected an integer >= 1, received ${p.availabilityAfter}`);
  }
  if (p.graceMs !== undefined && !(p.graceMs >= 0)) {
    throw new RangeError(`graceMs: expected a number >= 0, received ${p.graceMs}`);
  }
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name}: expected an integer >= 0, received ${v}`);
}

/** The supervision state machine of one machine. All times are epoch milliseconds given by the caller. */
export class MachineSupervisor {
  #id: string;
  #policy: MachinePolicy;
  #random: () => number;
  #breaker: CircuitBreaker;
  #anchor: number;
  #state: MachineState = "STARTING";
  #next: number;
  #startedAt: number | null = null;
  #lastSuccess: number | null;
  #lastError: string | null = null;
  #polls: number;
  #failures: number;
  #availability: Availability | null = null;

  /**
   * @throws RangeError on an invalid policy, phase or restored counter (the config parser rejects these first)
   */
  constructor(machineId: string, policy: MachinePolicy, opts: SupervisorOptions) {
    checkPolicy(policy);
    this.#breaker = new CircuitBreaker({
      threshold: policy.breakerThreshold,
      cooldownMs: policy.breakerCooldownMs,
    });
    const phase = opts.phaseMs ?? randomPhaseMs(policy.intervalMs, opts.random);
    if (!Number.isFinite(phase) || phase < 0) {
      throw new RangeError(`phaseMs: expected a number >= 0, received ${phase}`);
    }
    const counters = opts.counters ?? { polls_total: 0, failures_total: 0 };
    checkCount("polls_total", counters.polls_total);
    checkCount("failures_total", counters.failures_total);
    this.#id = machineId;
    this.#policy = { ...policy };
    this.#random = opts.random;
    this.#anchor = opts.now + phase;
    this.#next = this.#anchor;
    this.#polls = counters.polls_total;
    this.#failures = counters.failures_total;
    this.#lastSuccess = opts.lastSuccessTs ?? null;
  }

  /** The machine id. */
  get machineId(): string {
    return this.#id;
  }

  /** The current state. */
  get state(): MachineState {
    return this.#state;
  }

  /** The last reported availability, `null` before the first outcome. */
  get availability(): Availability | null {
    return this.#availability;
  }

  /** Epoch ms when the next poll should start; `Infinity` once stopped. */
  nextAttemptAt(): number {
    return this.#state === "STOPPED" ? Number.POSITIVE_INFINITY : this.#next;
  }

  /**
   * Call when the poll is about to start at `now`. Returns false when no poll may start: stopped, breaker
   * still cooling down (`now` before {@link nextAttemptAt}), or the probe is already running. When the
   * cooldown has elapsed this hands out the single probe and the state becomes PROBING.
   */
  beginAttempt(now: number): boolean {
    if (this.#state === "STOPPED") return false;
    if (!this.#breaker.tryAcquire(now)) return false;
    if (this.#breaker.state === "half_open") this.#state = "PROBING";
    this.#startedAt = now;
    return true;
  }

  /** Reports a successful poll that ended at `now`. Returns the events to log/record (none once stopped). */
  onSuccess(now: number): SupervisorEvent[] {
    if (this.#state === "STOPPED") return [];
    const startedAt = this.#takeStart(now);
    const events: SupervisorEvent[] = [];
    this.#polls += 1;
    this.#lastSuccess = now;
    if (this.#breaker.recordSuccess(now) === "closed") {
      events.push({ type: "breaker_closed", machineId: this.#id });
    }
    this.#state = "OK";
    this.#next = nextDueAfterPoll({
      anchorMs: this.#anchor,
      intervalMs: this.#policy.intervalMs,
      startedAt,
      finishedAt: now,
      graceMs: this.#policy.graceMs,
    });
    this.#setAvailability("AVAILABLE", null, events);
    return events;
  }

  /** Reports a failed poll (timeout, crash, driver or protocol error) that ended at `now`. */
  onFailure(now: number, error: string): SupervisorEvent[] {
    if (this.#state === "STOPPED") return [];
    this.#takeStart(now);
    const events: SupervisorEvent[] = [];
    this.#polls += 1;
    this.#failures += 1;
    this.#lastError = error;
    const t = this.#breaker.recordFailure(now);
    const n = this.#breaker.consecutiveFailures;
    if (t === "opened" || t === "reopened") {
      this.#state = "CRITICAL";
      this.#next = this.#breaker.openUntil ?? now + this.#policy.breakerCooldownMs;
      events.push({
        type: "breaker_open",
        machineId: this.#id,
        lastError: error,
        cooldownMs: this.#policy.breakerCooldownMs,
        consecutiveFailures: n,
        reopened: t === "reopened",
      });
    } else {
      this.#state = "BACKOFF";
      this.#next = now + backoffDelayMs(n, this.#policy.maxBackoffMs, this.#random);
    }
    if (n >= (this.#policy.availabilityAfter ?? 1) || this.#state === "CRITICAL") {
      this.#setAvailability("UNAVAILABLE", error, events);
    }
    return events;
  }

  /** Stops supervision: state STOPPED, no next attempt, later outcomes are ignored. */
  stop(): void {
    this.#state = "STOPPED";
    this.#startedAt = null;
  }

  /** The `status --json` fields of this machine (without `driver`). */
  snapshot(): MachineSnapshot {
    return {
      id: this.#id,
      state: this.#state,
      consecutive_failures: this.#breaker.consecutiveFailures,
      last_success_ts: this.#lastSuccess,
      last_error: this.#lastError,
      next_attempt_ts: this.#state === "STOPPED" ? null : this.#next,
      polls_total: this.#polls,
      failures_total: this.#failures,
    };
  }

  /** The start of the attempt just finished: from beginAttempt, else assumed at its due time (not after now). */
  #takeStart(now: number): number {
    const s = this.#startedAt ?? Math.min(this.#next, now);
    this.#startedAt = null;
    return s;
  }

  #setAvailability(a: Availability, reason: string | null, events: SupervisorEvent[]): void {
    if (this.#availability === a) return;
    this.#availability = a;
    events.push({ type: "availability", machineId: this.#id, availability: a, reason });
  }
}
