/**
 * The run loop: ties the sandbox (one MachineWorker per machine), the buffer and the uplink together.
 *
 * - Each machine has its own async loop: sleep until its supervisor's next attempt, poll through its worker,
 *   buffer the record, feed the outcome to the supervisor (backoff, breaker, availability). Loops share
 *   nothing but the buffer, so a hung, slow or crashing machine never delays another.
 * - With `when_full = "stop_polling"` a loop waits while the buffer has no room (the machine keeps its state).
 * - Availability changes are buffered as records of their own: `{availability, availability_reason}`.
 * - A loop hands its records to the buffer and polls on without waiting for their commit: while storage
 *   fails (disk full) the buffer keeps readings in memory up to its bound, and `hasRoom()` pauses polling
 *   past that. Awaiting each commit would stall every machine for the whole episode. The outcome of each
 *   enqueue (counters, the debug line once committed) is handled when it settles; stop() waits for them.
 * - A driver that returns several readings per poll (a ReadingBatch) gets each stored as its own record with
 *   its source `ts`, and its resume cursor committed in the same transaction (TelemetryBuffer.enqueueBatch);
 *   each worker's `init` gets the machine's latest cursor from the buffer. If the buffer refuses such a batch,
 *   the worker is recycled, so the fresh driver resumes from the cursor the buffer really holds.
 * - The uploader runs its own loop on the same buffer. Without `[uplink]` (an air-gapped site) there is none:
 *   the agent collects and buffers only, and records leave through `export`.
 * - `status.json` (src/datadir/status_file.ts) is rewritten every second and on uplink state changes; the
 *   counters start from the previous document, so they survive restarts and include standalone commands.
 *   On the same tick the agent runs `serveRequests` (one at a time): `run` passes the server of `export --remove`
 *   requests (src/offline/remove_request.ts), since only this process may write the buffer.
 * - stop(): stop polling, close every worker (which kills and reaps it), let the uploader finish or return its
 *   batch to queued, write the final status, close the buffer (flushing pending commits), release the lock.
 */
import type { Config, MachineConfig } from "../config/types.ts";
import { getLog, type Log } from "../log/mod.ts";
import { type IdentifiedRecord, makeRecord, type Metrics, type MetricValue } from "../record/mod.ts";
import {
  acquireDataDirLock,
  BufferFullError,
  BufferUnavailableError,
  TelemetryBuffer,
} from "../buffer/mod.ts";
import { Confiner, machineWorkDir, MachineWorker, type PollOutcome } from "../sandbox/mod.ts";
import type { DriverStatus } from "../../drivers/types.ts";
import { type PersistedMachine, type PersistedUplink, StatusWriter } from "../datadir/status_file.ts";
import { Uploader } from "../uplink/mod.ts";
import { sleep } from "../uplink/timing.ts";
import { spreadPhaseMs } from "./scheduler.ts";
import { MachineSupervisor, type SupervisorEvent } from "./supervisor.ts";
import type { MachineStatus } from "./status.ts";
import { startupLine, type SummaryFigures, summaryLine } from "./summary.ts";
import { formatElapsed } from "../util/human.ts";
import { VERSION } from "../version.ts";

/** Called after every poll (metrics observe durations here). */
export type PollListener = (machineId: string, outcome: PollOutcome) => void;

function addCounts(a: Record<string, number> | undefined, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b)) if (v) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Counts the demo and tests read; also what `run` logs at exit. */
export interface AgentCounters {
  /** Polls attempted. */
  polls: number;
  /** Failed polls by cause (timeout, crash, ...). */
  failuresByCause: Record<string, number>;
  /** Times a breaker opened. */
  breakerTrips: number;
  /** Records handed to the buffer (readings and availability records). */
  buffered: number;
  /** Of those, records the buffer already had (same id). */
  duplicates: number;
  /** Readings the buffer refused (full far past its cap, or storage failing with its memory backlog full). */
  notBuffered: number;
}

/** Options of {@link Agent}. */
export interface AgentOptions {
  /** Random source for backoff jitter and start phases. */
  random?: () => number;
  /** Logger (default `simco.engine`). */
  log?: Log;
  /**
   * Called every second with the open buffer, never twice at once, and awaited before the buffer closes:
   * requests from other processes that must write the buffer (`export --remove`).
   */
  serveRequests?: (buffer: TelemetryBuffer) => Promise<void>;
  /** More phrases for the startup line (metrics address, confinement, ...). */
  startupExtra?: readonly string[];
}

/** One running agent on one data dir. */
export class Agent {
  readonly counters: AgentCounters = {
    polls: 0,
    failuresByCause: {},
    breakerTrips: 0,
    buffered: 0,
    duplicates: 0,
    notBuffered: 0,
  };
  #config: Config;
  #log: Log;
  #random: () => number;
  #pollAbort = new AbortController();
  #uploadAbort = new AbortController();
  #lock: { release(): void } | null = null;
  #buffer: TelemetryBuffer | null = null;
  #uploader: Uploader | null = null;
  #workers = new Map<string, MachineWorker>();
  #confiner: Confiner | null = null;
  #supervisors = new Map<string, MachineSupervisor>();
  #machineLoops: Promise<void>[] = [];
  #uploadLoop: Promise<void> = Promise.resolve();
  #status: StatusWriter | null = null;
  #uplinkBefore: PersistedUplink | null = null;
  #restartsBefore = new Map<string, Record<string, number>>();
  #failuresByCause = new Map<string, Record<string, number>>();
  #pollListeners: PollListener[] = [];
  #statusTimer: ReturnType<typeof setInterval> | undefined;
  #summaryTimer: ReturnType<typeof setInterval> | undefined;
  #startupExtra: string[];
  #statusSoon: ReturnType<typeof setTimeout> | undefined;
  #stopped: Promise<void> | null = null;
  #refusing = false;
  #enqueues = new Set<Promise<void>>();
  #serveRequests: ((buffer: TelemetryBuffer) => Promise<void>) | null;
  #serving: Promise<void> | null = null;
  /** Each machine's last driver status (ReadingBatch.status), for status.json. */
  #driverStatus = new Map<string, DriverStatus>();

  constructor(config: Config, opts: AgentOptions = {}) {
    this.#config = config;
    this.#log = opts.log ?? getLog("engine");
    this.#random = opts.random ?? Math.random;
    this.#serveRequests = opts.serveRequests ?? null;
    this.#startupExtra = [...(opts.startupExtra ?? [])];
  }

  /** The buffer (after start). */
  get buffer(): TelemetryBuffer | null {
    return this.#buffer;
  }

  /**
   * Takes the data-dir lock, opens the buffer, starts every machine loop and the uploader. Throws
   * DataDirLockedError when another agent uses the data dir.
   */
  async start(): Promise<void> {
    const { config } = this;
    await Deno.mkdir(config.agent.dataDir, { recursive: true });
    const lock = acquireDataDirLock(config.agent.dataDir);
    this.#lock = lock;
    try {
      this.#buffer = TelemetryBuffer.open(config.agent.dataDir, {
        maxRecords: config.buffer.maxRecords,
        whenFull: config.buffer.whenFull,
        log: getLog("buffer"),
      });
    } catch (e) {
      lock.release();
      this.#lock = null;
      throw e;
    }
    this.#status = new StatusWriter(config.agent.dataDir, "run", (problem) => {
      // Once per episode: a full disk would otherwise add a line every second to a log on the same disk.
      if (problem) this.#log.warn(`cannot write status.json: ${problem}`);
      else this.#log.info("status.json is written again");
    });
    const previous = this.#status.previous;
    this.#uplinkBefore = previous?.uplink ?? null;
    const now = Date.now();
    const confiner = new Confiner({
      mode: config.agent.confinement,
      workerUser: config.agent.workerUser,
      dataDir: config.agent.dataDir,
      log: getLog("sandbox"),
    });
    this.#confiner = confiner;
    confiner.logPlans(config.machines);
    config.machines.forEach((m, i) => {
      const old = previous?.machines.find((p) => p.id === m.id) as
        | (PersistedMachine & Partial<MachineStatus>)
        | undefined;
      this.#restartsBefore.set(m.id, old?.worker_restarts ?? {});
      this.#failuresByCause.set(m.id, { ...(old?.failures_by_cause ?? {}) });
      const sup = new MachineSupervisor(m.id, m, {
        now,
        random: this.#random,
        // Spread first polls over the first interval so many machines at the same interval do not fire together.
        phaseMs: spreadPhaseMs(i, config.machines.length, m.intervalMs),
        counters: old ? { polls_total: old.polls_total, failures_total: old.failures_total } : undefined,
        lastSuccessTs: old?.last_success_ts ?? null,
      });
      this.#supervisors.set(m.id, sup);
      this.#workers.set(
        m.id,
        new MachineWorker(m, {
          log: getLog("worker", m.id),
          workDir: machineWorkDir(config.agent.dataDir, m.id),
          confiner,
          cursor: () => this.#storedCursor(m.id),
        }),
      );
    });
    const stats = this.#buffer.stats();
    this.#log.info(startupLine({
      version: VERSION,
      agentId: config.agent.id,
      configFile: config.file,
      machines: config.machines.length,
      dataDir: config.agent.dataDir,
      queued: stats.queued + stats.in_flight,
      oldestQueuedTs: stats.oldest_queued_ts,
      deadLetters: stats.dead_letter,
      now,
      extra: this.#startupExtra,
    }));
    for (const m of config.machines) this.#machineLoops.push(this.#machineLoop(m));
    if (config.uplink.url) {
      this.#uploader = new Uploader(this.#buffer, {
        agentId: config.agent.id,
        uplink: config.uplink,
        dataDir: config.agent.dataDir,
        log: getLog("uplink"),
        random: this.#random,
        onStatusChange: () => this.#writeStatusSoon(),
      });
      this.#uploadLoop = this.#uploader.runLoop(this.#uploadAbort.signal);
    } else {
      this.#log.info(
        "no [uplink] configured: collecting and buffering only (offline; use 'simco-agent export' to carry records out)",
      );
    }
    await this.#writeStatus();
    this.#statusTimer = setInterval(() => {
      void this.#writeStatus();
      this.#serve();
    }, this.#status.intervalMs);
    let last = this.#summaryFigures();
    this.#summaryTimer = setInterval(() => {
      const now = this.#summaryFigures();
      this.#log.info(summaryLine(last, now));
      last = now;
    }, config.agent.summaryIntervalMs);
  }

  #summaryFigures(): SummaryFigures {
    const b = this.#buffer!.stats();
    const c = this.counters;
    return {
      at: Date.now(),
      polls: c.polls,
      failures: Object.values(c.failuresByCause).reduce((a, n) => a + n, 0),
      buffered: c.buffered - c.duplicates,
      sent: this.uplinkStatus().sent_total,
      queued: b.queued + b.in_flight,
      oldestQueuedTs: b.oldest_queued_ts,
      deadLetters: b.dead_letter,
      dropped: b.dropped_total,
    };
  }

  /** Calls `listener` after every poll. */
  onPoll(listener: PollListener): void {
    this.#pollListeners.push(listener);
  }

  /** The uploader (after start, when an uplink is configured). */
  get uploader(): Uploader | null {
    return this.#uploader;
  }

  /** The status writer (after start): the last document written and whether writing fails. */
  get statusWriter(): StatusWriter | null {
    return this.#status;
  }

  /** The config this agent runs. */
  get config(): Config {
    return this.#config;
  }

  /** Snapshot of every machine, in config order, as `status --json` shows them. */
  machines(): MachineStatus[] {
    return this.#config.machines.map((m) => {
      const w = this.#workers.get(m.id)!;
      const st = this.#driverStatus.get(m.id);
      return {
        ...this.#supervisors.get(m.id)!.snapshot(),
        driver: m.driver,
        worker_restarts: addCounts(this.#restartsBefore.get(m.id), w.stats.recycles),
        failures_by_cause: { ...this.#failuresByCause.get(m.id) },
        worker_memory_bytes: w.rssBytes,
        ...(this.#confiner ? { confinement: this.#confiner.status(m) } : {}),
        ...(st ? { driver_status: st } : {}),
      };
    });
  }

  /** The uplink part of status.json: this run's uploader on top of the lifetime figures before it. */
  uplinkStatus(): PersistedUplink {
    const up = this.#uploader?.status();
    const before = this.#uplinkBefore;
    return {
      state: up?.state ?? (this.#config.uplink.url ? "idle" : "none"),
      last_success_ts: up?.last_success_ts ?? before?.last_success_ts ?? null,
      last_error: up?.last_error ?? null,
      sent_total: (before?.sent_total ?? 0) + (up?.sent_total ?? 0),
      next_attempt_ts: up?.next_attempt_ts ?? null,
      drain: up?.drain ?? null,
    };
  }

  /** Runs `serveRequests` once, unless it is still running. */
  #serve(): void {
    const buffer = this.#buffer;
    if (this.#serving || !buffer || this.#stopped || !this.#serveRequests) return;
    this.#serving = this.#serveRequests(buffer)
      .catch((e) =>
        this.#log.error(`serving a request failed: ${e instanceof Error ? e.message : String(e)}`)
      )
      .finally(() => this.#serving = null);
  }

  #writeStatus(): Promise<void> {
    if (!this.#status) return Promise.resolve();
    return this.#status.write({ uplink: this.uplinkStatus(), machines: this.machines() });
  }

  /** An uplink change others should see now (a drain request done, a state change): one write, coalesced. */
  #writeStatusSoon(): void {
    if (this.#statusSoon !== undefined || this.#stopped) return;
    this.#statusSoon = setTimeout(() => {
      this.#statusSoon = undefined;
      void this.#writeStatus();
    }, 0);
  }

  async #machineLoop(m: MachineConfig): Promise<void> {
    const signal = this.#pollAbort.signal;
    const sup = this.#supervisors.get(m.id)!;
    const worker = this.#workers.get(m.id)!;
    let waitingForRoom = false;
    while (!signal.aborted) {
      await sleep(sup.nextAttemptAt() - Date.now(), signal);
      if (signal.aborted) break;
      if (!this.#buffer!.hasRoom()) {
        if (!waitingForRoom) {
          this.#log.warn(`machine ${m.id}: buffer full, polling paused until there is room`);
        }
        waitingForRoom = true;
        await sleep(Math.min(m.intervalMs, 1000), signal);
        continue;
      }
      if (waitingForRoom) this.#log.info(`machine ${m.id}: buffer has room again, polling resumed`);
      waitingForRoom = false;
      // Marks the start (PROBING after a cooldown); false when the supervisor says it is not due after all.
      if (!sup.beginAttempt(Date.now())) continue;
      const outcome = await worker.poll();
      if (signal.aborted) break;
      this.#handleOutcome(m, sup, outcome);
    }
  }

  #handleOutcome(m: MachineConfig, sup: MachineSupervisor, outcome: PollOutcome): void {
    this.counters.polls++;
    for (const l of this.#pollListeners) l(m.id, outcome);
    const now = Date.now();
    let events: SupervisorEvent[];
    if (outcome.kind === "ok") {
      events = sup.onSuccess(now);
      // Availability goes first so the cloud sees AVAILABLE before (or with) the first reading.
      this.#handleEvents(events, outcome.ts);
      if (outcome.status) this.#driverStatus.set(m.id, outcome.status);
      if (outcome.readings) this.#enqueueBatch(m.id, outcome.readings, outcome.cursor);
      else this.#enqueue(m.id, outcome.ts, outcome.metrics);
    } else {
      this.counters.failuresByCause[outcome.cause] = (this.counters.failuresByCause[outcome.cause] ?? 0) + 1;
      const byCause = this.#failuresByCause.get(m.id)!;
      byCause[outcome.cause] = (byCause[outcome.cause] ?? 0) + 1;
      // One line per failure: the sandbox has logged it already when it recycled the worker.
      if (outcome.recycledPid === undefined) {
        this.#log.warn(`machine ${m.id}: poll failed (${outcome.cause}): ${outcome.message}`);
      }
      events = sup.onFailure(now, `${outcome.cause}: ${outcome.message}`);
      this.#handleEvents(events, now);
    }
  }

  #handleEvents(events: SupervisorEvent[], ts: number): void {
    for (const e of events) {
      switch (e.type) {
        case "breaker_open":
          this.counters.breakerTrips++;
          this.#log.critical(
            `machine ${e.machineId}: ${e.consecutiveFailures} consecutive failures, breaker open; ` +
              `last error: ${e.lastError}; next probe in ${formatElapsed(e.cooldownMs)}`,
          );
          break;
        case "breaker_closed":
          this.#log.info(`machine ${e.machineId}: probe succeeded, breaker closed, polling resumed`);
          break;
        case "availability": {
          const metrics: Record<string, string> = { availability: e.availability };
          if (e.reason) metrics.availability_reason = e.reason;
          this.#log.info(`machine ${e.machineId}: ${e.availability}${e.reason ? ` (${e.reason})` : ""}`);
          this.#enqueue(e.machineId, ts, metrics);
          break;
        }
      }
    }
  }

  /** The machine's cursor for a fresh driver's `init` (null when none, or while the buffer cannot say). */
  #storedCursor(machineId: string): MetricValue | null {
    try {
      return this.#buffer?.cursor(machineId) ?? null;
    } catch (e) {
      this.#log.warn(
        `machine ${machineId}: stored cursor unreadable (${(e as Error).message}); starting without`,
      );
      return null;
    }
  }

  /**
   * Hands a driver's batch (its readings as records, and its cursor) to the buffer as one transaction, keeping
   * the machine's order; the commit is awaited in the background.
   */
  #enqueueBatch(
    machineId: string,
    readings: readonly { ts: number; metrics: Metrics }[],
    cursor: MetricValue | undefined,
  ): void {
    const p = this.#enqueueBatchAndWait(machineId, readings, cursor).catch((e) => {
      this.#log.error(
        `machine ${machineId}: readings not buffered: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
    this.#enqueues.add(p);
    void p.finally(() => this.#enqueues.delete(p));
  }

  async #enqueueBatchAndWait(
    machineId: string,
    readings: readonly { ts: number; metrics: Metrics }[],
    cursor: MetricValue | undefined,
  ): Promise<void> {
    const records: IdentifiedRecord[] = [];
    try {
      for (const r of readings) records.push(makeRecord(machineId, r.ts, r.metrics));
    } catch (e) {
      this.#log.error(`machine ${machineId}: invalid readings not buffered: ${(e as Error).message}`);
      return;
    }
    const refused = await this.#stored(
      () =>
        this.#buffer!.enqueueBatch(records, cursor === undefined ? undefined : { machineId, value: cursor }),
      records.length,
    );
    if (refused) {
      // The driver counts these as delivered; a fresh worker resumes from the cursor the buffer holds.
      await this.#workers.get(machineId)?.recycle(
        "the buffer refused its readings; resuming from the stored cursor",
      );
      return;
    }
    this.#log.debug(`machine ${machineId}: buffered ${records.length} readings with their cursor`);
  }

  /**
   * Runs one enqueue and keeps the counters; resolves true when the buffer refused it (full far past its cap,
   * or storage failing with its memory backlog full), which pauses polling through hasRoom().
   */
  async #stored(
    enqueue: () => Promise<{ inserted: boolean[] }>,
    n: number,
  ): Promise<boolean> {
    let inserted: boolean[];
    try {
      ({ inserted } = await enqueue());
    } catch (e) {
      if (!(e instanceof BufferFullError || e instanceof BufferUnavailableError)) throw e;
      this.counters.notBuffered += n;
      if (!this.#refusing) {
        this.#log.error(`buffer refused readings (${e.message}); polling pauses until it recovers`);
      }
      this.#refusing = true;
      return true;
    }
    if (this.#refusing) {
      this.#log.info(`buffer accepts readings again (${this.counters.notBuffered} were refused)`);
    }
    this.#refusing = false;
    this.counters.buffered += inserted.length;
    for (const ok of inserted) if (!ok) this.counters.duplicates++;
    return false;
  }

  /** Hands a record to the buffer now (keeping each machine's order); its commit is awaited in the background. */
  #enqueue(machineId: string, ts: number, metrics: Metrics): void {
    const p = this.#enqueueAndWait(machineId, ts, metrics).catch((e) => {
      this.#log.error(
        `machine ${machineId}: record not buffered: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
    this.#enqueues.add(p);
    void p.finally(() => this.#enqueues.delete(p));
  }

  async #enqueueAndWait(machineId: string, ts: number, metrics: Metrics): Promise<void> {
    let record: IdentifiedRecord;
    try {
      record = makeRecord(machineId, ts, metrics);
    } catch (e) {
      // The sandbox validates metrics; reaching here is a bug, never a reason to stop the machine loop.
      this.#log.error(`machine ${machineId}: invalid record not buffered: ${(e as Error).message}`);
      return;
    }
    // A refusal means the reading was never reported buffered; polling pauses through hasRoom().
    let inserted = true;
    const refused = await this.#stored(async () => {
      const r = await this.#buffer!.enqueue(record);
      inserted = r.inserted;
      return { inserted: [r.inserted] };
    }, 1);
    if (refused) return;
    this.#log.debug(`machine ${machineId}: buffered ${record.id}${inserted ? "" : " (duplicate)"}`);
  }

  /** Stops polling and closes every worker (killing and reaping it); the uploader keeps going. Idempotent. */
  async stopPolling(): Promise<void> {
    if (!this.#pollAbort.signal.aborted) this.#log.info("polling stopped, closing workers");
    this.#pollAbort.abort();
    await Promise.all([...this.#workers.values()].map((w) => w.close()));
    await Promise.all(this.#machineLoops);
    for (const sup of this.#supervisors.values()) sup.stop();
  }

  /**
   * Waits until every reading handed to the buffer has settled (committed or refused), at most `timeoutMs`
   * (storage may be failing). Resolves true when all settled.
   */
  async commitsSettled(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), timeoutMs));
    const all = Promise.all(this.#enqueues).then(() => true as const);
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops gracefully (idempotent): see the module comment for the order. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    await this.stopPolling();
    this.#uploadAbort.abort();
    await this.#uploadLoop;
    clearInterval(this.#statusTimer);
    await this.#serving;
    clearInterval(this.#summaryTimer);
    clearTimeout(this.#statusSoon);
    await this.#writeStatus();
    await this.#buffer?.close();
    await Promise.all(this.#enqueues);
    this.#lock?.release();
    const c = this.counters;
    this.#log.info(
      `stopped: ${c.polls} polls, ${c.buffered - c.duplicates} records buffered; ran ${
        formatElapsed(Date.now() - (this.#status?.startedAt ?? Date.now()))
      }`,
    );
  }

  /** Kills every worker at once (second signal: forced exit). Committed records are safe in buffer.db. */
  async forceStop(): Promise<void> {
    this.#pollAbort.abort();
    this.#uploadAbort.abort();
    await Promise.race([
      Promise.all([...this.#workers.values()].map((w) => w.close())),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
  }
}
