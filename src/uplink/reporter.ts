/**
 * The uploader's visible state: the status object (`status()`), the status file other processes read
 * (status_file.ts), CRITICAL-once-per-episode logging of configuration problems, and the drain request a
 * `drain` command may have left in the data dir.
 */
import type { Log } from "../log/mod.ts";
import { readDrainRequest } from "./drain_request.ts";
import { writeUplinkStatus } from "./status_file.ts";

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
}

const STATUS_WRITE_MS = 1_000;
const DRAIN_CHECK_MS = 250;

/** Keeps and publishes the uploader's state. */
export class UplinkReporter {
  readonly #status: UplinkStatus = {
    state: "idle",
    last_success_ts: null,
    last_error: null,
    sent_total: 0,
    next_attempt_ts: null,
  };
  #writtenAt = 0;
  #writtenKey = "";
  #episodeLogged = false;
  #drainCheckAt = 0;
  #drainId: string | null = null;
  #drainDone = false;
  #drainSentBase = 0;
  #drainProblem: string | null = null;

  /**
   * @param dataDir where the status file is written and drain requests are looked for
   * @param url shown in CRITICAL lines
   * @param maxBackoffMs shown in CRITICAL lines
   */
  constructor(
    readonly dataDir: string,
    readonly log: Log,
    readonly clock: () => number,
    readonly url: string | null,
    readonly maxBackoffMs: number,
  ) {}

  /** A copy of the status. */
  snapshot(): UplinkStatus {
    return { ...this.#status };
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
   * Updates the status; writes the file on a state change, when `force`d, or at most once a second when a
   * figure other processes show (sent, last error, last success) changed.
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
    writeUplinkStatus(this.dataDir, {
      ...s,
      pid: Deno.pid,
      updated_ts: now,
      drain: this.#drainId
        ? {
          request_id: this.#drainId,
          done: this.#drainDone,
          sent: s.sent_total - this.#drainSentBase,
          problem: this.#drainProblem,
        }
        : null,
    });
  }

  /** A configuration problem (already redacted): CRITICAL once per episode; state auth_error/config_error. */
  configProblem(reason: string, state: UplinkState = "config_error"): void {
    if (!this.#episodeLogged) {
      this.#episodeLogged = true;
      this.log.critical(
        `uplink: ${reason} (url ${
          this.url ?? "none"
        }); keeping every record, retrying every ${this.maxBackoffMs} ms`,
      );
    }
    this.set({ state, last_error: reason });
  }

  /** A success: ends a failure episode (INFO when there was one). */
  succeeded(failuresBefore: number): void {
    if (failuresBefore > 0) this.log.info(`uplink recovered after ${failuresBefore} failed attempt(s)`);
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
