/**
 * MachineWorker: the agent's handle on one machine's driver, which runs in its own worker process
 * (`simco-agent __worker`, see worker_main.ts) inside a permission-narrowed Web Worker (driver_host.ts).
 *
 * Policy:
 * - Lazy start: the first poll spawns the process and sends `init`; later polls reuse it.
 * - Time budgets: process start (spawn until `hello`) gets `startTimeoutMs` (default 10 s, because 100
 *   processes starting at once on 2 cores take seconds); `init` and each `poll` get `machine.timeoutMs`
 *   each. So the first poll of a fresh process may take up to startTimeoutMs + 2 x timeoutMs; every later
 *   poll at most timeoutMs (+ the kill grace when it fails).
 * - Any failure recycles the process before poll() returns: stdin is closed (a healthy worker exits on
 *   that), then SIGTERM, then SIGKILL, `graceMs` apart (a hung poll skips the polite step), and the process
 *   is always reaped. The next poll gets a fresh process.
 * - Memory: every reply reports the worker's resident memory; a poll that succeeds with the worker above
 *   `machine.maxMemoryMb` returns its reading (marked `recycled: "memory"`) and the process is retired in
 *   the background, so the next poll starts fresh. A worker that dies of V8 heap exhaustion fails with
 *   cause `memory`. A cap that even a freshly initialised worker exceeds is reported once and not enforced
 *   (recycling after every poll would not help).
 * - poll() never throws and polls of one MachineWorker are serialised; different MachineWorkers share
 *   nothing, so a hung or crashing machine never delays another machine's polls.
 */
import { join } from "node:path";
import type { MachineConfig } from "../config/types.ts";
import { getLog, type Log } from "../log/mod.ts";
import type { Metrics, MetricValue } from "../record/mod.ts";
import { driverEntry } from "../../drivers/registry.ts";
import type { DriverDescription, DriverStatus, TimedReading } from "../../drivers/types.ts";
import { MAX_LINE_BYTES, oneLine, PROTOCOL_VERSION } from "./protocol.ts";
import { sandboxPermissions } from "./permissions.ts";
import { type ExitInfo, WorkerProcess } from "./process.ts";
import type { Confiner } from "./confine/mod.ts";

/** Why a poll failed. */
export type FailureCause = "timeout" | "crash" | "driver_error" | "protocol" | "memory" | "spawn";

/** Result of one poll. */
export type PollOutcome =
  | {
    readonly kind: "ok";
    /** Epoch ms when the reading was taken (when the driver's poll resolved, for a batch). */
    readonly ts: number;
    /** Validated metrics: finite numbers, plain JSON (a batch: its last reading's, or {} when empty). */
    readonly metrics: Metrics;
    /**
     * Set when the driver returned a ReadingBatch: its validated readings, each with the source's `ts`, to be
     * stored as records of their own (instead of `ts` + `metrics`).
     */
    readonly readings?: readonly TimedReading[];
    /** The batch's resume cursor, to be committed with its readings (absent: the stored cursor stays). */
    readonly cursor?: MetricValue;
    /** The batch's driver status fields (shown by `status` as `driver_status`). */
    readonly status?: DriverStatus;
    /** How long poll() took, including a process start. */
    readonly durationMs: number;
    /** Set when the worker was retired after this reading (over its memory cap). */
    readonly recycled?: "memory";
  }
  | {
    readonly kind: "fail";
    readonly cause: FailureCause;
    /** One line, human-readable. */
    readonly message: string;
    readonly durationMs: number;
    /** The worker process killed and reaped for this failure; its one log line was written here. */
    readonly recycledPid?: number;
  };

/** Options of a {@link MachineWorker}. */
export interface MachineWorkerOptions {
  /** Where worker stderr lines and recycles are logged (default: logger `simco.sandbox`). */
  log?: Log;
  /** Wait between the steps of ending a process (close stdin, SIGTERM, SIGKILL); default 500 ms. */
  graceMs?: number;
  /** Budget for a fresh process to start and say hello; default 10 s. */
  startTimeoutMs?: number;
  /** Cap on one reply line from the worker; default 1 MiB. */
  maxLineBytes?: number;
  /**
   * Test hook, unreachable from machines.toml: URL of a module exporting `createDriver(): Driver`, used
   * instead of the registry entry named by `machine.driver`. Imported only inside the worker.
   */
  driverModule?: string;
  /**
   * Test hook: the description of the `driverModule` driver (permissions are derived from it); required with
   * `driverModule`, since this process never imports driver code.
   */
  driverDescription?: DriverDescription;
  /**
   * The machine's scratch folder (`<data_dir>/machines/<machine id>/`): created (recursively) before each worker
   * process starts, given to the driver as `ctx.workDir`, and the one folder its Web Worker may write to (vendor
   * logs). Default: none (`ctx.workDir` null, no write permission).
   */
  workDir?: string;
  /** OS confinement of the worker processes (src/sandbox/confine); absent: none. */
  confiner?: Confiner;
  /**
   * Called before each `init`: the machine's stored resume cursor, handed to the driver as `ctx.cursor`
   * (default: none, null).
   */
  cursor?: () => MetricValue | null;
}

/** Counters for diagnostics and benchmarks. */
export interface WorkerStats {
  /** Processes started. */
  spawns: number;
  /** How long the last process start took, spawn until `init` answered (ms), or null before the first. */
  lastStartMs: number | null;
  /** Processes recycled, by cause. */
  recycles: Record<FailureCause, number>;
}

const MIB = 1024 * 1024;

/**
 * The scratch folder of one machine: `<data_dir>/machines/<machine id>/` (an id of dots only, which the config
 * allows, is prefixed with `_` so that it stays a folder of its own).
 */
export function machineWorkDir(dataDir: string, machineId: string): string {
  return join(dataDir, "machines", /^\.+$/.test(machineId) ? `_${machineId}` : machineId);
}

/** One machine's sandboxed driver. */
export class MachineWorker {
  readonly #machine: MachineConfig;
  readonly #log: Log;
  readonly #graceMs: number;
  readonly #startTimeoutMs: number;
  readonly #maxLineBytes: number;
  readonly #driverModule: string | null;
  readonly #driverDescription: DriverDescription | null;
  readonly #workDir: string | null;
  readonly #confiner: Confiner | null;
  readonly #cursor: () => MetricValue | null;
  #proc: WorkerProcess | null = null;
  #retiring: Promise<unknown> = Promise.resolve();
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 0;
  #busy = false;
  #capReachable = true;
  #closed: Promise<void> | null = null;
  /** Counters: processes started and recycled. */
  readonly stats: WorkerStats = {
    spawns: 0,
    lastStartMs: null,
    recycles: { timeout: 0, crash: 0, driver_error: 0, protocol: 0, memory: 0, spawn: 0 },
  };

  /** Creates the handle; no process is started until the first poll. */
  constructor(machine: MachineConfig, opts: MachineWorkerOptions = {}) {
    this.#machine = machine;
    this.#log = opts.log ?? getLog("sandbox");
    this.#graceMs = opts.graceMs ?? 500;
    this.#startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.#maxLineBytes = opts.maxLineBytes ?? MAX_LINE_BYTES;
    this.#driverModule = opts.driverModule ?? null;
    this.#driverDescription = opts.driverDescription ?? null;
    this.#workDir = opts.workDir ?? null;
    this.#confiner = opts.confiner ?? null;
    this.#cursor = opts.cursor ?? (() => null);
  }

  /** Process id of the current worker process, or null when none is running. */
  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  /** Resident memory (bytes) the current worker last reported, or null. */
  get rssBytes(): number | null {
    return this.#proc && this.#proc.rss > 0 ? this.#proc.rss : null;
  }

  /** Polls the machine once. Never throws. */
  poll(): Promise<PollOutcome> {
    const started = performance.now();
    // Serialised: each poll starts after the previous one settled; the chain itself never rejects.
    const run = this.#queue
      .then(() => this.#pollNow(started))
      .catch((e) => this.#fail(started, "crash", `internal error: ${oneLine(String(e))}`));
    this.#queue = run;
    return run;
  }

  #fail(started: number, cause: FailureCause, message: string): PollOutcome & { kind: "fail" } {
    return { kind: "fail", cause, message: oneLine(message), durationMs: performance.now() - started };
  }

  async #pollNow(started: number): Promise<PollOutcome> {
    if (this.#closed) return this.#fail(started, "spawn", "worker is closed");
    await this.#retiring;
    let proc = this.#proc;
    if (proc && (proc.exit !== null || proc.violation !== null)) {
      const why = proc.violation ?? this.#exitText(proc, proc.exit!);
      await this.#retire(proc, proc.violation ? "protocol" : "crash", `between polls: ${why}`, false);
      proc = null;
    }
    this.#busy = true;
    try {
      if (!proc) {
        const started_ = await this.#start(started);
        if (!(started_ instanceof WorkerProcess)) return started_;
        proc = started_;
      }
      const id = ++this.#nextId;
      const r = await proc.request({ id, op: "poll" }, this.#machine.timeoutMs);
      if (r.kind === "reply" && r.reply.type === "telemetry") {
        const durationMs = performance.now() - started;
        const { ts, readings, cursor, status } = r.reply;
        const metrics = r.reply.metrics ?? readings?.at(-1)?.metrics ?? {};
        const batch = readings === undefined ? {} : { readings, cursor, status };
        const cap = this.#machine.maxMemoryMb * MIB;
        // A cap below what a fresh worker already uses cannot be met by recycling (see #start): no thrashing.
        if (proc.rss > cap && this.#capReachable) {
          const msg = `resident memory ${
            (proc.rss / MIB).toFixed(1)
          } MiB is above max_memory_mb ${this.#machine.maxMemoryMb}`;
          this.#retiring = this.#retire(proc, "memory", msg, false);
          return { kind: "ok", ts, metrics, ...batch, durationMs, recycled: "memory" };
        }
        return { kind: "ok", ts, metrics, ...batch, durationMs };
      }
      return await this.#failAndRetire(proc, started, r, "poll");
    } finally {
      this.#busy = false;
    }
  }

  async #start(started: number): Promise<WorkerProcess | PollOutcome> {
    const registered = driverEntry(this.#machine.driver);
    const module = this.#driverModule ?? registered?.module;
    const desc = this.#driverModule ? this.#driverDescription : registered?.description;
    if (!desc || !module) {
      const why = this.#driverModule
        ? "a driverModule needs its driverDescription"
        : `unknown driver "${this.#machine.driver}"`;
      return this.#fail(started, "spawn", why);
    }
    if (this.#closed) return this.#fail(started, "spawn", "worker is closed");
    if (this.#workDir !== null) {
      try {
        await Deno.mkdir(this.#workDir, { recursive: true });
      } catch (e) {
        this.stats.recycles.spawn++;
        return this.#fail(
          started,
          "spawn",
          `cannot create the machine's folder ${this.#workDir}: ${String(e)}`,
        );
      }
    }
    let proc: WorkerProcess;
    const m = this.#machine;
    const permissions = sandboxPermissions(m, desc, this.#workDir);
    const confiner = this.#confiner;
    try {
      proc = WorkerProcess.spawn(m.id, {
        log: this.#log,
        maxLineBytes: this.#maxLineBytes,
        confine: confiner ? (self) => confiner.command(m, permissions, this.#driverModule, self) : undefined,
      });
    } catch (e) {
      this.stats.recycles.spawn++;
      return this.#fail(started, "spawn", `cannot start worker process: ${String(e)}`);
    }
    this.#proc = proc;
    this.stats.spawns++;
    const spawnedAt = performance.now();
    const hello = await proc.request(null, this.#startTimeoutMs);
    if (hello.kind !== "reply" || hello.reply.type !== "hello" || hello.reply.protocol !== PROTOCOL_VERSION) {
      const why = hello.kind === "timeout"
        ? `worker did not start within ${this.#startTimeoutMs} ms`
        : hello.kind === "exit"
        ? `worker ended before it started: ${this.#exitText(proc, hello.exit)}`
        : hello.kind === "protocol"
        ? `worker start: ${hello.problem}`
        : `worker speaks another protocol (expected hello with protocol ${PROTOCOL_VERSION})`;
      await this.#retire(proc, "spawn", why, hello.kind === "timeout");
      return { ...this.#fail(started, "spawn", why), recycledPid: proc.pid };
    }
    const init = await proc.request({
      id: ++this.#nextId,
      op: "init",
      driver: m.driver,
      module,
      options: m.options,
      ctx: {
        machineId: m.id,
        host: m.host,
        port: m.port,
        timeoutMs: m.timeoutMs,
        workDir: this.#workDir,
        cursor: this.#cursor(),
      },
      permissions,
    }, m.timeoutMs);
    if (init.kind === "reply" && init.reply.type === "ready") {
      this.stats.lastStartMs = performance.now() - spawnedAt;
      this.#checkCap(proc.rss);
      return proc;
    }
    return await this.#failAndRetire(proc, started, init, "init");
  }

  /** A cap below a freshly initialised worker's memory is reported once and not enforced. */
  #checkCap(freshRss: number): void {
    const reachable = freshRss <= this.#machine.maxMemoryMb * MIB;
    if (!reachable && this.#capReachable) {
      this.#log.warn(
        `machine ${this.#machine.id}: max_memory_mb ${this.#machine.maxMemoryMb} is below what a fresh worker ` +
          `uses (${(freshRss / MIB).toFixed(1)} MiB resident); the memory cap is not enforced`,
        { machine: this.#machine.id },
      );
    }
    this.#capReachable = reachable;
  }

  async #failAndRetire(
    proc: WorkerProcess,
    started: number,
    r: Awaited<ReturnType<WorkerProcess["request"]>>,
    what: "init" | "poll",
  ): Promise<PollOutcome> {
    let cause: FailureCause;
    let message: string;
    switch (r.kind) {
      case "timeout":
        cause = "timeout";
        message = `${what} did not answer within ${this.#machine.timeoutMs} ms`;
        break;
      case "exit":
        message = this.#closed ? "worker closed during the poll" : this.#exitText(proc, r.exit);
        cause = /out of memory|heap limit/i.test(message) ? "memory" : "crash";
        break;
      case "protocol":
        cause = "protocol";
        message = r.problem;
        break;
      case "reply":
        if (r.reply.type === "error") {
          cause = r.reply.code === "protocol" ? "protocol" : "driver_error";
          message = r.reply.message;
        } else {
          cause = "protocol";
          message = `unexpected ${r.reply.type} reply to ${what}`;
        }
        break;
    }
    await this.#retire(proc, cause, message, cause === "timeout");
    return { ...this.#fail(started, cause, message), recycledPid: proc.pid };
  }

  #exitText(proc: WorkerProcess, exit: ExitInfo): string {
    const how = proc.fatal ??
      (exit.signal ? `worker killed by ${exit.signal}` : `worker exited with code ${exit.code}`);
    const tail = proc.stderrTail.at(-1);
    return tail && !proc.fatal ? `${how} (stderr: ${tail})` : how;
  }

  async #retire(proc: WorkerProcess, cause: FailureCause, message: string, hung: boolean): Promise<void> {
    if (this.#proc === proc) this.#proc = null;
    this.stats.recycles[cause]++;
    if (!this.#closed) {
      this.#log.warn(
        `machine ${this.#machine.id}: worker pid ${proc.pid} recycled (${cause}): ${oneLine(message)}`,
        {
          machine: this.#machine.id,
          cause,
        },
      );
    }
    if (cause === "memory" && proc.exit === null) {
      await proc.request({ id: ++this.#nextId, op: "close" }, this.#graceMs);
    }
    await proc.kill(this.#graceMs, hung);
  }

  /**
   * Ends the current worker process after the poll in flight (if any), so that the next poll starts a fresh
   * driver whose `init` gets the cursor then stored (the agent calls this when the buffer refused a batch the
   * driver already counted as delivered). No-op when no process runs.
   */
  recycle(reason: string): Promise<void> {
    const run = this.#queue.then(async () => {
      const proc = this.#proc;
      if (proc && !this.#closed) await this.#retire(proc, "driver_error", reason, false);
    }).catch(() => {});
    this.#queue = run;
    return run;
  }

  /**
   * Asks the driver to close (when idle), then ends and reaps the process. Idempotent; later polls fail with
   * cause `spawn` ("worker is closed"). A poll in flight is not waited for: it ends at once as a `crash`
   * failure, "worker closed during the poll".
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const proc = this.#proc;
      this.#proc = null;
      if (proc) {
        if (!this.#busy && proc.exit === null && proc.violation === null) {
          await proc.request({ id: ++this.#nextId, op: "close" }, this.#graceMs);
        }
        await proc.kill(this.#graceMs, this.#busy);
      }
      await this.#retiring;
      await this.#queue.catch(() => {});
    })();
    return this.#closed;
  }
}
