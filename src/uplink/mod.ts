/**
 * The uploader: moves records from the buffer to the cloud, exactly once after deduplication.
 *
 * One batch at a time (so each machine's records arrive in order): claim up to `batch_size` oldest queued
 * records (they become `in_flight`), deliver them (deliver.ts: 413 split, 400/422 bisection), then ack what
 * the cloud accepted, dead-letter what it rejected, and return the rest to the queue. A crash at any point
 * leaves records `in_flight`, which the buffer returns to `queued` at the next start; the cloud drops the
 * duplicates by id. Timing comes from the pure BackoffSchedule (backoff.ts).
 *
 * Two ways to "drain" (upload now, ignoring the backoff schedule, still honouring Retry-After):
 * - {@link Uploader.drainNow}: the `drain` command's own uploader when no `run` holds the data dir;
 * - a drain request file (drain_request.ts) that {@link Uploader.runLoop} of `run` watches.
 * Either way there is only ever one uploader per buffer: the data-dir lock decides which.
 */
import type { UplinkSection } from "../config/types.ts";
import { getLog, type Log } from "../log/mod.ts";
import { formatDelay, plural } from "../util/human.ts";
import { type AttemptEnd, BackoffSchedule, DRAIN_RETRY_PAUSE_MS } from "./backoff.ts";
import { deliver, type DeliveryOutcome, type DeliveryProblem } from "./deliver.ts";
import { createTransport, redact, resolveApiKey, type Transport } from "./http.ts";
import type { EncodedBody, RawWireRecord, Rejection } from "../wire/protocol.ts";
import type { PostResult } from "./classify.ts";
import { UplinkReporter, type UplinkStatus } from "./reporter.ts";
import { sleep, yieldToEventLoop } from "./timing.ts";

export { ApiKeyError, resolveApiKey } from "./http.ts";
export { requestOutcome, type UplinkStatus } from "./reporter.ts";

/** Options of {@link Uploader}. */
export interface UploaderOptions {
  /** Sent as `agent_id` with every batch. */
  agentId: string;
  /** The `[uplink]` section. */
  uplink: UplinkSection;
  /** Logger; default `simco.uplink`. */
  log?: Log;
  /** Clock (epoch ms); default Date.now. */
  clock?: () => number;
  /** U(0,1) source for backoff jitter; default Math.random. */
  random?: () => number;
  /** fetch seam (TLS client etc.); default the global fetch. */
  fetch?: typeof fetch;
  /** Data dir: drain requests are looked for here. */
  dataDir: string;
  /** Told when the status changed in a way other processes should see soon (the holder rewrites status.json). */
  onStatusChange?: () => void;
}

/** One claimed record, as the buffer's claimRaw returns it: metrics as JSON text, spliced into the body. */
export interface ClaimedLike extends RawWireRecord {
  /** Failed attempts so far. */
  readonly attempts: number;
}

/** The part of the buffer (src/buffer/mod.ts TelemetryBuffer) the uploader uses. */
export interface UploadQueue {
  /** Moves up to n oldest queued records to in_flight and returns them, metrics unparsed. */
  claimRaw(n: number): ClaimedLike[];
  /** Deletes acknowledged records. */
  ack(ids: string[]): void;
  /** Returns records to queued (attempts + 1). */
  nack(ids: string[]): void;
  /** Moves records to dead letters with a reason. */
  deadLetter(items: { id: string; reason: string }[]): void;
  /** Counts (claim returns [] while storage fails, so "empty" is confirmed here). */
  stats(): { queued: number };
}

/** Result of {@link Uploader.drainNow}. */
export interface DrainResult {
  /** True when the queue was emptied. */
  readonly empty: boolean;
  /** The non-retryable problem that stopped the drain, or null. */
  readonly problem: string | null;
}

/** How long a request already in flight may finish after the stop signal. */
export const STOP_GRACE_MS = 2_000;
/** Pause between claims when the queue is empty or a batch was not full (lets records collect). */
export const IDLE_POLL_MS = 200;
/** Longest single sleep while waiting, so a drain request or the stop signal is noticed promptly. */
const WAIT_SLICE_MS = 250;

/** Uploads the buffer's records; see the module comment. */
export class Uploader {
  readonly #queue: UploadQueue;
  readonly #opts: UploaderOptions;
  readonly #log: Log;
  readonly #clock: () => number;
  readonly #schedule: BackoffSchedule;
  readonly #report: UplinkReporter;
  #batchLimit: number;
  #retryAfterUntil = 0;
  #lastKey: string | null = null;

  /** @param buffer the TelemetryBuffer (anything with claim/ack/nack/deadLetter) */
  constructor(buffer: UploadQueue, opts: UploaderOptions) {
    this.#queue = buffer;
    this.#opts = opts;
    this.#log = opts.log ?? getLog("uplink");
    this.#clock = opts.clock ?? Date.now;
    this.#schedule = new BackoffSchedule(opts.uplink.maxBackoffMs, opts.random ?? Math.random);
    this.#batchLimit = opts.uplink.batchSize;
    this.#report = new UplinkReporter(
      opts.dataDir,
      this.#log,
      this.#clock,
      opts.uplink.url,
      opts.uplink.maxBackoffMs,
      opts.onStatusChange,
    );
  }

  /** A copy of the current status. */
  status(): UplinkStatus {
    return this.#report.snapshot();
  }

  #counted(p: Promise<PostResult>): Promise<PostResult> {
    return p.then((r) => {
      this.#report.request(r);
      return r;
    });
  }

  /** Records the cloud acknowledged whose deletion from the buffer is still pending (pipelining). */
  pendingAcks(): number {
    return this.#deferred?.acked.length ?? 0;
  }

  /**
   * Uploads until `signal` aborts. On abort, a request in flight gets {@link STOP_GRACE_MS} to finish; after
   * that it is cancelled and its records return to the queue. Resolves when stopped, having written its last
   * acks and nacks to the buffer: close the buffer only after that.
   */
  async runLoop(signal: AbortSignal): Promise<void> {
    let transport: Transport | null = null;
    let nextAt = 0; // the backoff schedule (a drain request ignores it)
    let holdUntil = 0; // idle polls and local failures (honoured always)
    let served: string | null = null; // the drain request taken up last
    try {
      while (!signal.aborted) {
        const drainId = this.#report.drainRequested();
        const drain = drainId !== null;
        if (drainId !== served) {
          served = drainId;
          if (drain) {
            // A new drain request: try now whatever the state (auth_error, config_error, backoff), with the
            // api key, the CA file and the transport made afresh (a key file may have been fixed).
            nextAt = holdUntil = this.#drainNotBefore = 0;
            this.#settle();
            transport?.close();
            transport = null;
          }
        }
        const now = this.#clock();
        const due = Math.max(
          holdUntil,
          drain ? Math.max(this.#retryAfterUntil, this.#drainNotBefore) : nextAt,
        );
        if (due > now) {
          this.#settle();
          this.#report.set({ next_attempt_ts: due });
          await sleep(Math.min(due - now, WAIT_SLICE_MS), signal);
          continue;
        }
        if (!transport) {
          transport = this.#makeTransport();
          if (!transport) {
            if (drain) this.#report.drainProblem(this.#report.snapshot().last_error ?? "no transport");
            holdUntil = this.#clock() + this.#opts.uplink.maxBackoffMs;
            continue;
          }
        }
        let step;
        try {
          step = await this.#step(transport, signal, drain);
        } catch (e) {
          // A buffer failure (disk full, I/O error): the buffer reports it; the uploader pauses and retries.
          this.#log.error(
            `uplink: buffer operation failed: ${this.#safe(e instanceof Error ? e.message : String(e))}`,
          );
          holdUntil = this.#clock() + Math.min(this.#opts.uplink.maxBackoffMs, 5_000);
          continue;
        }
        nextAt = step.nextAt;
        if (step.emptied) this.#settle();
        if (drain && step.emptied) this.#report.drainDone();
        if (step.claimed === 0 || (step.claimed < this.#batchLimit && !step.problem)) {
          holdUntil = this.#clock() + IDLE_POLL_MS;
        }
      }
    } finally {
      try {
        this.#settle();
      } finally {
        transport?.close();
        this.#report.set({ next_attempt_ts: null }, true);
      }
    }
  }

  /**
   * The `drain` command's own upload (no `run` on this data dir): sends until the queue is empty, ignoring
   * the backoff schedule but honouring Retry-After; stops on a non-retryable problem or when `signal` aborts.
   * `onBatch` is called after every batch with the number of records acknowledged so far.
   */
  async drainNow(signal: AbortSignal, onBatch?: (sent: number) => void): Promise<DrainResult> {
    const transport = this.#makeTransport();
    if (!transport) return { empty: false, problem: this.#report.snapshot().last_error };
    try {
      while (!signal.aborted) {
        const wait = Math.max(this.#retryAfterUntil, this.#drainNotBefore) - this.#clock();
        if (wait > 0) {
          await sleep(wait, signal);
          continue;
        }
        const step = await this.#step(transport, signal, true);
        if (step.emptied || step.problem) this.#settle();
        onBatch?.(this.#report.snapshot().sent_total);
        const p = step.problem;
        const alone = p?.kind === "endpoint" && p.alone && this.#queue.stats().queued > 1;
        if (p && (p.kind === "config" || (p.kind === "endpoint" && !alone))) {
          return { empty: false, problem: this.#report.snapshot().last_error };
        }
        if (step.emptied) return { empty: true, problem: null };
        if (step.claimed === 0) await sleep(IDLE_POLL_MS, signal); // storage failing: claim paused
      }
      return { empty: false, problem: null };
    } finally {
      this.#settle();
      transport.close();
      this.#report.set({ next_attempt_ts: null }, true);
    }
  }

  #drainNotBefore = 0;
  #next: { records: ClaimedLike[]; body: EncodedBody } | null = null;
  #deferred: DeliveryOutcome | null = null;

  #makeTransport(): Transport | null {
    const { uplink } = this.#opts;
    if (!uplink.url) {
      this.#report.configProblem(
        "uplink.url is not configured (expected an http:// or https:// URL in [uplink])",
      );
      return null;
    }
    try {
      return createTransport({
        url: uplink.url,
        agentId: this.#opts.agentId,
        gzip: uplink.gzip,
        timeoutMs: uplink.timeoutMs,
        caFile: uplink.caFile,
        fetch: this.#opts.fetch,
        clock: this.#clock,
        apiKey: () => {
          const key = resolveApiKey(uplink);
          this.#lastKey = key;
          return key;
        },
      });
    } catch (e) {
      this.#report.configProblem(e instanceof Error ? e.message : String(e));
      return null;
    }
  }

  /**
   * Claims one batch, delivers it and applies the outcome.
   *
   * Pipelined while there is a backlog (full batches), still one request at a time: while batch k is in
   * flight, batch k+1 is claimed and encoded; the buffer writes for batch k (ack, dead letters) are done
   * once batch k+1 is on the wire. If batch k is not fully acknowledged, the prefetched batch k+1 goes back
   * to the queue unsent (attempts + 1), so batch k is retried first and records keep their order.
   */
  async #step(transport: Transport, signal: AbortSignal, drain: boolean) {
    const prepared = this.#next;
    this.#next = null;
    const batch = prepared?.records ?? this.#queue.claimRaw(this.#batchLimit);
    if (batch.length === 0) {
      this.#flushDeferred();
      if (this.#report.state === "ok") this.#report.set({ state: "idle" });
      const emptied = this.#queue.stats().queued === 0;
      return { claimed: 0, emptied, problem: null, nextAt: this.#clock() + (emptied ? 0 : IDLE_POLL_MS) };
    }
    const hard = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => timer = setTimeout(() => hard.abort(), STOP_GRACE_MS);
    if (signal.aborted) hard.abort();
    else signal.addEventListener("abort", onAbort, { once: true });
    let outcome: DeliveryOutcome;
    try {
      let first: Promise<PostResult> | null = signal.aborted
        ? Promise.resolve({ kind: "aborted" })
        : this.#counted(transport.send(prepared?.body ?? transport.encode(batch), hard.signal));
      // Do the buffer work in the request's shadow, yielding between the pieces so the request's bytes
      // keep flowing to the socket.
      await yieldToEventLoop();
      this.#flushDeferred();
      if (batch.length === this.#batchLimit && !signal.aborted) {
        const next = this.#queue.claimRaw(this.#batchLimit);
        if (next.length) {
          this.#next = { records: next, body: transport.encode(next) };
        }
      }
      outcome = await deliver(
        batch,
        (recs) => {
          if (first && recs === batch) {
            const p = first;
            first = null;
            return p;
          }
          return signal.aborted
            ? Promise.resolve({ kind: "aborted" })
            : this.#counted(transport.post(recs, hard.signal));
        },
        this.#clock,
      );
    } catch (e) {
      this.#queue.nack(batch.map((r) => r.id));
      this.#returnPrefetched();
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    }
    if (outcome.problem === null && outcome.deadLetters.length === 0 && this.#next) {
      this.#deferred = outcome;
    } else {
      this.#returnPrefetched();
      this.#apply(outcome);
    }
    const nextAt = this.#afterAttempt(outcome, batch.length, drain);
    const emptied = outcome.problem === null && batch.length < this.#batchLimit;
    return { claimed: batch.length, emptied, problem: outcome.problem, nextAt };
  }

  /** Applies a deferred (successful) outcome to the buffer. */
  #flushDeferred(): void {
    const d = this.#deferred;
    this.#deferred = null;
    if (d) this.#apply(d);
  }

  /** Returns a prefetched, unsent batch to the queue (keeping its place). */
  #returnPrefetched(): void {
    const n = this.#next;
    this.#next = null;
    if (n) this.#queue.nack(n.records.map((r) => r.id));
  }

  /** Leaves the buffer consistent: deferred acks written, prefetched records back in the queue. */
  #settle(): void {
    this.#flushDeferred();
    this.#returnPrefetched();
  }

  #apply(o: DeliveryOutcome): void {
    if (o.acked.length) this.#queue.ack(o.acked);
    if (o.deadLetters.length) {
      this.#queue.deadLetter(
        o.deadLetters.map((d: Rejection) => ({ id: d.id, reason: this.#safe(d.reason) })),
      );
      for (const d of o.deadLetters) {
        this.#log.error(`record ${d.id} moved to dead letters: ${this.#safe(d.reason)}`);
      }
    }
    if (o.unsent.length) this.#queue.nack(o.unsent);
    if (o.tooLargeAt !== null) {
      const limit = Math.max(1, Math.ceil(o.tooLargeAt / 2));
      if (limit < this.#batchLimit) {
        this.#log.warn(
          `the cloud refused ${o.tooLargeAt} records per request (413); sending at most ${limit}`,
        );
        this.#batchLimit = limit;
      }
    }
  }

  /** Updates status, logs, and returns when the next attempt is due by the schedule. */
  #afterAttempt(o: DeliveryOutcome, claimed: number, drain: boolean): number {
    const now = this.#clock();
    const p: DeliveryProblem | null = o.problem;
    this.#report.sent(o.acked.length, o.acked.length > 0 || (p === null && claimed > o.unsent.length));
    this.#drainNotBefore = 0;
    this.#retryAfterUntil = 0;
    if (p === null) {
      const failures = this.#schedule.failures;
      this.#report.succeeded(failures);
      return this.#schedule.next({ kind: "success" }, now);
    }
    if (p.kind === "aborted") return now;
    let end: AttemptEnd;
    // A lone record refused on its own proves nothing about the endpoint: retry soon, paired with newer
    // records, so the bisection can tell a poison record (dead letter) from a refusing endpoint.
    const retry = p.kind === "retry" || (p.kind === "endpoint" && p.alone);
    if (retry) {
      end = { kind: "retryable", retryAfterMs: p.kind === "retry" ? p.retryAfterMs : null };
      if (p.kind === "retry" && p.retryAfterMs !== null) {
        this.#retryAfterUntil = now + Math.min(this.#opts.uplink.maxBackoffMs, p.retryAfterMs);
      }
      this.#drainNotBefore = now + DRAIN_RETRY_PAUSE_MS;
    } else {
      end = { kind: "config" };
      this.#drainNotBefore = now + this.#opts.uplink.maxBackoffMs;
    }
    const at = this.#schedule.next(end, now, drain);
    const reason = this.#safe(p.reason);
    if (retry) {
      const msg = `upload failed (${reason}); ${plural(o.unsent.length, "record")} kept, retry in ${
        formatDelay(at - now)
      }`;
      if (this.#schedule.failures === 1) this.#log.warn(msg);
      else this.#log.debug(msg);
      this.#report.set({ state: "backoff", last_error: reason, next_attempt_ts: at });
    } else {
      this.#report.configProblem(reason, p.kind === "config" && p.auth ? "auth_error" : "config_error");
      this.#report.set({ next_attempt_ts: at });
      if (drain) this.#report.drainProblem(reason);
    }
    return at;
  }

  #safe(text: string): string {
    return redact(text, this.#lastKey);
  }
}
