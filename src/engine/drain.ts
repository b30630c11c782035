/**
 * `drain`: upload everything buffered now, whether or not `run` is active on the same data dir, without
 * ever having two uploaders on one buffer. The data-dir lock decides:
 *
 * - Lock free: `drain` takes it, opens the buffer and uploads itself ({@link Uploader.drainNow}): no backoff
 *   schedule, but Retry-After and the request timeout are honoured. A `run` started meanwhile is refused by
 *   the lock.
 * - Lock held by `run`: `drain` writes a drain request (uplink/drain_request.ts) and keeps its heartbeat; the
 *   running uploader drops its backoff schedule until it has emptied the queue, and says so in status.json.
 *   `drain` shows progress from the buffer (read-only) and status.json. If `run` exits meanwhile, `drain`
 *   takes the lock and finishes the job itself.
 *
 * As the lock holder, a standalone drain also writes status.json (src/datadir/status_file.ts): what it sent
 * counts in `sent_total`, and `status` shows it while it runs.
 *
 * Ends when the queue is empty (every record queued when the last batch was claimed is answered), on a
 * non-retryable problem (the cloud refuses the key, the url, or every record), at the timeout, or on Ctrl-C.
 */
import {
  acquireDataDirLock,
  DataDirLockedError,
  lockHolder,
  readBufferStats,
  TelemetryBuffer,
} from "../buffer/mod.ts";
import type { Config } from "../config/types.ts";
import { readStatusDocument, StatusWriter } from "../datadir/status_file.ts";
import type { Log } from "../log/mod.ts";
import { resolveApiKey, Uploader } from "../uplink/mod.ts";
import type { ProgressSink } from "../util/progress.ts";
import { removeDrainRequest, writeDrainRequest } from "../uplink/drain_request.ts";

/** How a drain ended. */
export interface DrainReport {
  /** True when everything was sent. */
  readonly empty: boolean;
  /** Records sent by this drain. */
  readonly sent: number;
  /** Records still queued or in flight at the end. */
  readonly left: number;
  /** Why it stopped early (timeout, non-retryable problem, interrupted), or null. */
  readonly problem: string | null;
  /** Who uploaded: this process, or the running agent. */
  readonly via: "drain" | "run";
  /** Records that became dead letters while this drain ran (the cloud rejected them on their own). */
  readonly deadLettered: number;
}

/** Options of {@link drainBuffer}. */
export interface DrainOptions {
  /** Give up after this long (null: no limit). */
  readonly timeoutMs: number | null;
  /** Progress display. */
  readonly progress: ProgressSink;
  /** Aborts the drain (Ctrl-C). */
  readonly signal: AbortSignal;
  /** Logger for the uploader. */
  readonly log?: Log;
  /** Called once the mode is known (`drain` uploads itself, or asks `run`). */
  readonly onMode?: (via: "drain" | "run", holderPid: number | null) => void;
}

const POLL_MS = 250;
const HEARTBEAT_MS = 1_000;
const NO_ANSWER_WARN_MS = 10_000;

/** Thrown for problems found before uploading (no url, no key): configuration errors. */
export class DrainConfigError extends Error {
  override name = "DrainConfigError";
}

/** Drains the buffer of `config.agent.dataDir`; see the module comment. */
export async function drainBuffer(config: Config, opts: DrainOptions): Promise<DrainReport> {
  if (!config.uplink.url) {
    throw new DrainConfigError(`uplink.url is not set in ${config.file} (drain needs an ingest url)`);
  }
  const started = Date.now();
  const deadline = opts.timeoutMs === null ? Infinity : started + opts.timeoutMs;
  const deadNow = () => readBufferStats(config.agent.dataDir)?.dead_letter ?? 0;
  const deadBefore = deadNow();
  const finish = (r: Omit<DrainReport, "deadLettered">): DrainReport => ({
    ...r,
    problem: r.problem === "timeout" ? timeoutText() : r.problem,
    deadLettered: Math.max(0, deadNow() - deadBefore),
  });
  const timeoutText = () => `timed out after ${Math.round((Date.now() - started) / 1000)} s`;
  let sentViaRun = 0;
  while (true) {
    let lock;
    try {
      lock = acquireDataDirLock(config.agent.dataDir);
    } catch (e) {
      if (!(e instanceof DataDirLockedError)) throw e;
      opts.onMode?.("run", e.pid);
      const r = await viaRun(config.agent.dataDir, deadline, opts, sentViaRun);
      if (r === "run-exited") {
        sentViaRun = opts.progress.lastSent;
        continue;
      }
      return finish(r);
    }
    try {
      opts.onMode?.("drain", null);
      return finish(await ownDrain(config, deadline, opts, sentViaRun));
    } finally {
      lock.release();
    }
  }
}

async function ownDrain(
  config: Config,
  deadline: number,
  opts: DrainOptions,
  base: number,
): Promise<Omit<DrainReport, "deadLettered">> {
  try {
    resolveApiKey(config.uplink);
  } catch (e) {
    throw new DrainConfigError(e instanceof Error ? e.message : String(e));
  }
  const buffer = TelemetryBuffer.open(config.agent.dataDir, {
    maxRecords: config.buffer.maxRecords,
    whenFull: config.buffer.whenFull,
    log: opts.log,
  });
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  opts.signal.addEventListener("abort", onAbort, { once: true });
  const timer = Number.isFinite(deadline)
    ? setTimeout(onAbort, Math.max(0, deadline - Date.now()))
    : undefined;
  const status = new StatusWriter(config.agent.dataDir, "drain", (m) => {
    if (m) opts.log?.warn(`cannot write status.json: ${m}`);
  });
  const uploader = new Uploader(buffer, {
    agentId: config.agent.id,
    uplink: config.uplink,
    log: opts.log,
    dataDir: config.agent.dataDir,
  });
  const publish = () => {
    const u = uploader.status();
    return status.writeUplinkOnly({
      sent: u.sent_total,
      lastSuccessTs: u.last_success_ts,
      state: u.state,
      lastError: u.last_error,
    });
  };
  const left = () => {
    const s = buffer.stats();
    return s.queued + s.in_flight - uploader.pendingAcks();
  };
  try {
    opts.progress.update(base, left(), true);
    await publish();
    let ticks = 0;
    const ticker = setInterval(() => {
      opts.progress.update(base + uploader.status().sent_total, left());
      if (++ticks % Math.round(HEARTBEAT_MS / POLL_MS) === 0) void publish();
    }, POLL_MS);
    let result;
    try {
      result = await uploader.drainNow(ac.signal, (sent) => opts.progress.update(base + sent, left()));
    } finally {
      clearInterval(ticker);
      await publish();
    }
    const sent = base + uploader.status().sent_total;
    const remaining = left();
    opts.progress.update(sent, remaining, true);
    const problem = result.empty ? null : result.problem ??
      (opts.signal.aborted ? "interrupted" : Date.now() >= deadline ? "timeout" : "stopped");
    return { empty: result.empty, sent, left: remaining, problem, via: "drain" };
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener("abort", onAbort);
    await buffer.close();
  }
}

async function viaRun(
  dataDir: string,
  deadline: number,
  opts: DrainOptions,
  base: number,
): Promise<Omit<DrainReport, "deadLettered"> | "run-exited"> {
  const id = crypto.randomUUID();
  const beat = () => writeDrainRequest(dataDir, { id, pid: Deno.pid, heartbeat_ts: Date.now() });
  beat();
  let lastBeat = Date.now();
  let warned = false;
  const started = Date.now();
  let sent = base;
  const leftNow = () => {
    const s = readBufferStats(dataDir);
    return s ? s.queued + s.in_flight : 0;
  };
  try {
    while (true) {
      const left = leftNow();
      const st = readStatusDocument(dataDir)?.uplink ?? null;
      const mine = st?.drain?.request_id === id;
      if (mine) {
        sent = base + (st!.drain!.sent ?? 0);
      } else if (!warned && Date.now() - started > NO_ANSWER_WARN_MS) {
        warned = true;
        opts.log?.warn(
          `the running agent has not taken up the drain request after ${
            NO_ANSWER_WARN_MS / 1000
          } s; still waiting`,
        );
      }
      opts.progress.update(sent, left);
      if (mine && st!.drain!.done) return { empty: true, sent, left, problem: null, via: "run" };
      if (mine && st!.drain!.problem) {
        return { empty: false, sent, left, problem: st!.drain!.problem, via: "run" };
      }
      if (lockHolder(dataDir) === null) return "run-exited";
      if (opts.signal.aborted) return { empty: false, sent, left, problem: "interrupted", via: "run" };
      if (Date.now() >= deadline) return { empty: false, sent, left, problem: "timeout", via: "run" };
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (Date.now() - lastBeat >= HEARTBEAT_MS) {
        beat();
        lastBeat = Date.now();
      }
    }
  } finally {
    removeDrainRequest(dataDir, id);
  }
}
