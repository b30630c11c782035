/**
 * The uploader's visible state: the status object (`status()`), change notifications for the data dir's
 * status document (written by the lock holder, src/datadir/status_file.ts), request counts by outcome,
 * CRITICAL-once-per-episode logging of configuration problems, and the drain request a `drain` command may
 * have left in the data dir.
 */
import { type DrainProgress, emptyUplink } from "../datadir/status_file.ts";
import type { Log } from "../log/mod.ts";
import { formatElapsed, plural } from "../util/human.ts";
import type { PostResult } from "./classify.ts";
import { readDrainRequest } from "./drain_request.ts";

/** Uploader state, as shown by `status`. */
export type UplinkState = "idle" | "ok" | "backoff" | "auth_error" | "config_error";

/** A snapshot of the uploader. */
export interface UplinkStatus {
  /** Current state. */
  state: UplinkState;
  /** Epoch ms of the last 2xx, or null. */
  last_success_ts: number | null;
  /** Last problem as one line (never the api key), or null. */
  last_error: string | null;
  /** Records acknowledged by the cloud since this uploader started. */
  sent_total: number;
  /** Epoch ms of the next attempt while waiting, else null. */
  next_attempt_ts: number | null;
  /** The drain request being served, if any. */
  drain: DrainProgress | null;
  /** HTTP requests since this uploader started, by {@link requestOutcome}. */
  requests: Record<string, number>;
}

/** The outcome label of one request (metrics `simco_uplink_requests_total{outcome}`), or null if aborted. */
export function requestOutcome(r: PostResult): string | null {
  switch (r.kind) {
    case "aborted":
      return null;
    case "network":
    case "timeout":
    case "no_key":
      return r.kind;
    case "response":
      if (r.status >= 200 && r.status < 300) return "ok";
      if (r.status === 401 || r.status === 403) return "auth_error";
      if (r.status === 429) return "throttled";
      return r.status >= 500 ? "server_error" : "rejected";
  }
}

const STATUS_WRITE_MS = 1_000;
const DRAIN_CHECK_MS = 250;

/** Keeps and publishes the uploader's state. */
export class UplinkReporter {
  readonly #status: UplinkStatus = { ...emptyUplink(), state: "idle", requests: {} };
  #writtenAt = 0;
  #writtenKey = "";
  #episodeLogged = false;
  #drainCheckAt = 0;
  #drainId: string | null = null;
  #drainDone = false;
  #drainSentBase = 0;
  #drainProblem: string | null = null;

  /**
   * @param dataDir where drain requests are looked for
   * @param url shown in CRITICAL lines
   * @param maxBackoffMs shown in CRITICAL lines
   * @param onChange told when the status changed in a way other processes should see soon
   */
  constructor(
    readonly dataDir: string,
    readonly log: Log,
    readonly clock: () => number,
    readonly url: string | null,
    readonly maxBackoffMs: number,
    readonly onChange: () => void = () => {},
  ) {}

  /** A copy of the status. */
  snapshot(): UplinkStatus {
    const drain = this.#drainId
      ? {
        request_id: this.#drainId,
        done: this.#drainDone,
        sent: this.#status.sent_total - this.#drainSentBase,
        problem: this.#drainProblem,
      }
      : null;
    return { ...this.#status, drain, requests: { ...this.#status.requests } };
  }

  /** Counts one request by its outcome. */
  request(r: PostResult): void {
    const o = requestOutcome(r);
    if (o) this.#status.requests[o] = (this.#status.requests[o] ?? 0) + 1;
  }

  /** The current state. */
  get state(): UplinkState {
    return this.#status.state;
  }

  /** Counts acknowledged records (and the time of success). */
  sent(n: number, success: boolean): void {
    this.#status.sent_total += n;
    if (success) this.#status.last_success_ts = this.clock();
  }

  /**
   * Updates the status; notifies on a state change, when `force`d, or at most once a second when a figure
   * other processes show (sent, last error, last success) changed.
   */
  set(patch: Partial<UplinkStatus>, force = false): void {
    const before = this.#status.state;
    Object.assign(this.#status, patch);
    const now = this.clock();
    const s = this.#status;
    const key = `${s.sent_total}|${s.last_error}|${s.last_success_ts}`;
    if (
      !force && before === s.state && (key === this.#writtenKey || now - this.#writtenAt < STATUS_WRITE_MS)
    ) {
      return;
    }
    this.#writtenKey = key;
    this.#writtenAt = now;
    // State changes are logged where they happen (first failure WARN, configProblem CRITICAL, recovery INFO).
    this.onChange();
  }

  /** A configuration problem (already redacted): CRITICAL once per episode; state auth_error/config_error. */
  configProblem(reason: string, state: UplinkState = "config_error"): void {
    if (!this.#episodeLogged) {
      this.#episodeLogged = true;
      this.log.critical(
        `uplink: ${reason} (url ${this.url ?? "none"}); keeping every record, retrying every ${
          formatElapsed(this.maxBackoffMs)
        }`,
      );
    }
    this.set({ state, last_error: reason });
  }

  /** A success: ends a failure episode (INFO when there was one). */
  succeeded(failuresBefore: number): void {
    if (failuresBefore > 0) {
      this.log.info(`uplink recovered after ${plural(failuresBefore, "failed attempt")}`);
    }
    this.#episodeLogged = false;
    this.set({ state: "ok", last_error: null, next_attempt_ts: null });
  }

  /** The id of the live drain request, or null (the file is read at most every 250 ms). */
  drainRequested(): string | null {
    const now = this.clock();
    if (now < this.#drainCheckAt) return this.#drainId;
    this.#drainCheckAt = now + DRAIN_CHECK_MS;
    const req = readDrainRequest(this.dataDir, now);
    const id = req?.id ?? null;
    if (id !== this.#drainId) {
      this.#drainId = id;
      this.#drainDone = false;
      this.#drainProblem = null;
      this.#drainSentBase = this.#status.sent_total;
      if (req) {
        this.log.info(`drain requested (pid ${req.pid}): uploading now, ignoring the backoff schedule`);
      }
      this.set({}, true);
    }
    return id;
  }

  /** Reports a non-retryable problem met while serving the current drain request (drain stops on it). */
  drainProblem(reason: string): void {
    if (this.#drainId === null || this.#drainProblem === reason) return;
    this.#drainProblem = reason;
    this.set({}, true);
  }

  /** Reports the current drain request as done (the queue was emptied after it arrived). */
  drainDone(): void {
    if (this.#drainId === null || this.#drainDone) return;
    this.#drainDone = true;
    this.set({}, true);
  }
}
