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
 * - The agent measures, the driver does not report (proc_stats.ts): every `monitorMs` (1 s), busy or idle,
 *   the worker's resident memory and CPU time are read. Over `machine.maxCpuPercent` of one core averaged
 *   over `cpuWindowMs` (10 s, cpu_budget.ts) the process is killed at once (cause `cpu`); over
 *   `machine.maxMemoryMb` while idle it is retired politely (`close`, then the usual end; cause `memory`).
 *   A poll that succeeds with the worker above its memory cap returns
 *   its reading (marked `recycled: "memory"`) and the process is retired in the background. A worker that
 *   dies of V8 heap exhaustion fails with cause `memory`. A memory cap that even a freshly initialised worker
 *   exceeds is reported once and not enforced (recycling after every poll would not help).
 * - Integrity: replies carry the spawn's secret (reply_auth.ts); stdout and stderr are metered in bytes per
 *   second (output_budget.ts); a forged or unexpected reply, or output over budget, kills the process at once,
 *   request outstanding or not (cause `protocol` / `output`). A reading whose `ts` is outside the sane window
 *   of the agent's clock (protocol.ts checkReadingTs) fails with cause `protocol`. The stderr log allowance is
 *   the machine's, not the process's: it survives recycles. A kill between polls for `protocol`, `output` or
 *   `cpu` makes the next poll fail with that cause (no process is started for it), so backoff and breaker
 *   apply; the poll after that starts a fresh process.
 * - poll() never throws and polls of one MachineWorker are serialised; different MachineWorkers share
 *   nothing, so a hung or crashing machine never delays another machine's polls.
 */
import { join } from "node:path";
import type { MachineConfig } from "../config/types.ts";
import { getLog, type Log } from "../log/mod.ts";
import type { Metrics, MetricValue } from "../record/mod.ts";
import { driverEntry } from "../../drivers/registry.ts";
import type { DriverDescription, DriverStatus, TimedReading } from "../../drivers/types.ts";
import {
  MAX_LINE_BYTES,
  oneLine,
  PROTOCOL_VERSION,
  readingTimeProblem,
  type SandboxPermissions,
} from "./protocol.ts";
import { sandboxPermissions } from "./permissions.ts";
import type { Confiner } from "./confine/mod.ts";
import { type CondemnCause, type ExitInfo, type OutputBudgets, WorkerProcess } from "./process.ts";
import { CPU_WINDOW_MS, CpuWindow } from "./cpu_budget.ts";
import { LogBudget } from "./output_budget.ts";
import { type ProcStatsReader, procStatsReader } from "./proc_stats.ts";
import { precacheDriver, workerEnvOverrides } from "./module_cache.ts";
import { resolveLibraryFile } from "../util/library_file.ts";

/** Why a poll failed. */
export type FailureCause = "timeout" | "crash" | "driver_error" | "spawn" | CondemnCause;

/**
 * Causes of a kill between polls that make the next poll fail (without starting a process), so that the
 * engine's backoff and breaker see a driver that misbehaves while idle: otherwise a flooder would be restarted
 * at every interval for ever, at the cost of a process start each time. A worker recycled for memory is
 * simply restarted (a slow leak is not the next reading's fault).
 */
const FAIL_NEXT_POLL: ReadonlySet<FailureCause> = new Set(["protocol", "output", "cpu"]);

/** Stderr bytes of one machine that reach the log per minute (the rest is counted in one line). */
export const STDERR_LOG_BYTES_PER_MINUTE = 64 * 1024;

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
  /** How often memory and CPU are measured (default 1000 ms). */
  monitorMs?: number;
  /** Window the CPU budget is averaged over (default {@link CPU_WINDOW_MS}). */
  cpuWindowMs?: number;
  /** Output budgets (default: process.ts outputBudgets). */
  budgets?: OutputBudgets;
  /** The measuring reader (default: the platform's, proc_stats.ts); null disables measuring. */
  procStats?: ProcStatsReader | null;
}

/** Counters for diagnostics and benchmarks. */
export interface WorkerStats {
  /** Processes started. */
  spawns: number;
  /** How long the last process start took, spawn until `init` answered (ms), or null before the first. */
  lastStartMs: number | null;
  /** Processes recycled, by cause. */
  recycles: Record<FailureCause, number>;
  /** Last measured resident memory of the current process, bytes (null before the first measurement). */
  memoryBytes: number | null;
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
  /** A kill between polls the next poll reports (see FAIL_NEXT_POLL). */
  #betweenPolls: { cause: CondemnCause; message: string } | null = null;
  readonly #monitorMs: number;
  readonly #cpuWindowMs: number;
  readonly #budgets: OutputBudgets | undefined;
  readonly #procStats: ProcStatsReader | null;
  readonly #logBudget = new LogBudget(STDERR_LOG_BYTES_PER_MINUTE, 60_000);
  /** Counters: processes started and recycled. */
  readonly stats: WorkerStats = {
    spawns: 0,
    lastStartMs: null,
    recycles: { timeout: 0, crash: 0, driver_error: 0, protocol: 0, memory: 0, spawn: 0, output: 0, cpu: 0 },
    memoryBytes: null,
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
    this.#monitorMs = opts.monitorMs ?? 1000;
    this.#cpuWindowMs = opts.cpuWindowMs ?? CPU_WINDOW_MS;
    this.#budgets = opts.budgets;
    this.#procStats = opts.procStats === undefined ? procStatsReader() : opts.procStats;
  }

  /** Process id of the current worker process, or null when none is running. */
  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  /** Resident memory (bytes) of the current worker as the agent last measured it, or null. */
  get rssBytes(): number | null {
    return this.#proc ? this.stats.memoryBytes : null;
  }

  /** Measures `proc` now; null when there is no reader or the process is gone. */
  #measure(proc: WorkerProcess): number | null {
    const s = this.#procStats?.sample(proc.pid) ?? null;
    if (s && this.#proc === proc) this.stats.memoryBytes = s.memoryBytes;
    return s?.memoryBytes ?? null;
  }

  #memoryMessage(bytes: number): string {
    return `resident memory ${
      (bytes / MIB).toFixed(1)
    } MiB is above max_memory_mb ${this.#machine.maxMemoryMb}`;
  }

  /** Measures memory and CPU of `proc` every monitorMs until it ends; kills it at once over a cap. */
  #monitor(proc: WorkerProcess): void {
    const reader = this.#procStats;
    if (!reader) return;
    const cpu = new CpuWindow(this.#machine.maxCpuPercent, this.#cpuWindowMs);
    const tick = () => {
      const s = reader.sample(proc.pid);
      if (!s || proc.exit !== null) return;
      if (this.#proc === proc) this.stats.memoryBytes = s.memoryBytes;
      // Memory: while idle the worker is retired politely (`close` first: a vendor handle is freed); during a
      // poll the check after the poll does it.
      if (this.#capReachable && s.memoryBytes > this.#machine.maxMemoryMb * MIB) {
        if (!this.#busy && this.#proc === proc) {
          this.#retiring = this.#retire(
            proc,
            "memory",
            `while idle: ${this.#memoryMessage(s.memoryBytes)}`,
            false,
          );
        }
        return;
      }
      const pct = cpu.add(performance.now(), s.cpuMs);
      if (pct !== null) {
        proc.condemn(
          "cpu",
          `CPU ${pct.toFixed(0)} % of one core over the last ${this.#cpuWindowMs / 1000} s is above ` +
            `max_cpu_percent ${this.#machine.maxCpuPercent}`,
        );
      }
    };
    tick();
    const timer = setInterval(tick, this.#monitorMs);
    proc.exited.then(() => clearInterval(timer));
  }

  /** The process killed itself on the agent's behalf (process.ts condemn): retire it now if idle. */
  #onCondemned(proc: WorkerProcess, cause: CondemnCause, message: string): void {
    // While a poll is in flight, its wait ends as `condemned` and the poll retires the process itself.
    if (this.#busy || this.#proc !== proc) return;
    this.#retiring = this.#retire(proc, cause, `while idle: ${message}`, true);
    if (FAIL_NEXT_POLL.has(cause)) this.#betweenPolls = { cause, message };
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
    if (proc && (proc.exit !== null || proc.verdict !== null)) {
      const v = proc.verdict;
      await this.#retire(
        proc,
        v?.cause ?? "crash",
        v?.message ?? `between polls: ${this.#exitText(proc, proc.exit!)}`,
        false,
      );
      proc = null;
      if (v && FAIL_NEXT_POLL.has(v.cause)) this.#betweenPolls = v;
    }
    const misbehaved = this.#betweenPolls;
    if (misbehaved) {
      this.#betweenPolls = null;
      return this.#fail(started, misbehaved.cause, `between polls: ${misbehaved.message}`);
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
        const badTs = readingTimeProblem(ts, readings, Date.now());
        if (badTs) {
          await this.#retire(proc, "protocol", `reading refused: ${badTs}`, false);
          return this.#fail(started, "protocol", `reading refused: ${badTs}`);
        }
        const rss = this.#measure(proc);
        // A cap below what a fresh worker already uses cannot be met by recycling (see #start): no thrashing.
        if (rss !== null && rss > this.#machine.maxMemoryMb * MIB && this.#capReachable) {
          this.#retiring = this.#retire(proc, "memory", this.#memoryMessage(rss), false);
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
    const resolved = this.#resolved(desc);
    if (typeof resolved === "string") {
      this.stats.recycles.spawn++;
      return this.#fail(started, "spawn", resolved);
    }
    const uncached = await precacheDriver(module);
    if (uncached !== null) {
      this.stats.recycles.spawn++;
      return this.#fail(started, "spawn", uncached);
    }
    if (this.#closed) return this.#fail(started, "spawn", "worker is closed");
    let proc: WorkerProcess;
    const m = this.#machine;
    const permissions = resolved.permissions;
    const confiner = this.#confiner;
    try {
      proc = WorkerProcess.spawn(m.id, {
        log: this.#log,
        maxLineBytes: this.#maxLineBytes,
        confine: confiner ? (self) => confiner.command(m, permissions, this.#driverModule, self) : undefined,
        logBudget: this.#logBudget,
        budgets: this.#budgets,
        onCondemned: (cause, message) => this.#onCondemned(proc, cause, message),
      }, workerEnvOverrides());
    } catch (e) {
      this.stats.recycles.spawn++;
      return this.#fail(started, "spawn", `cannot start worker process: ${String(e)}`);
    }
    this.#proc = proc;
    this.stats.spawns++;
    this.stats.memoryBytes = null;
    this.#monitor(proc);
    const spawnedAt = performance.now();
    const hello = await proc.request(null, this.#startTimeoutMs);
    if (hello.kind !== "reply" || hello.reply.type !== "hello" || hello.reply.protocol !== PROTOCOL_VERSION) {
      const why = hello.kind === "timeout"
        ? `worker did not start within ${this.#startTimeoutMs} ms`
        : hello.kind === "exit"
        ? `worker ended before it started: ${this.#exitText(proc, hello.exit)}`
        : hello.kind === "protocol"
        ? `worker start: ${hello.problem}`
        : hello.kind === "condemned"
        ? `worker start: ${hello.message}`
        : `worker speaks another protocol (expected hello with protocol ${PROTOCOL_VERSION})`;
      await this.#retire(proc, "spawn", why, hello.kind === "timeout");
      return { ...this.#fail(started, "spawn", why), recycledPid: proc.pid };
    }
    const init = await proc.request({
      id: ++this.#nextId,
      op: "init",
      driver: m.driver,
      module,
      options: resolved.options,
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
      this.#checkCap(this.#measure(proc));
      return proc;
    }
    return await this.#failAndRetire(proc, started, init, "init");
  }

  /**
   * The driver's options and permissions; the native library (when the driver has one) must be a regular file
   * and both the grant and the driver's option name its resolved path. Returns a one-line problem otherwise.
   */
  #resolved(
    desc: DriverDescription,
  ): { options: MachineConfig["options"]; permissions: SandboxPermissions } | string {
    const key = desc.libraryOption;
    const lib = key ? this.#machine.options[key] : undefined;
    if (!key || typeof lib !== "string" || lib === "") {
      return {
        options: this.#machine.options,
        permissions: sandboxPermissions(this.#machine, desc, this.#workDir),
      };
    }
    const r = resolveLibraryFile(lib);
    if ("problem" in r) return `options.${key}: ${r.problem}`;
    const options = { ...this.#machine.options, [key]: r.path };
    return { options, permissions: sandboxPermissions({ ...this.#machine, options }, desc, this.#workDir) };
  }

  /** A cap below a freshly initialised worker's memory is reported once and not enforced. */
  #checkCap(freshRss: number | null): void {
    if (freshRss === null) return;
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
      case "condemned":
        cause = r.cause;
        message = r.message;
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
   * Asks the driver to close (when idle, or once a poll in flight has finished within the grace period), then
   * ends and reaps the process. Idempotent; later polls fail with cause `spawn` ("worker is closed"). A poll
   * still running after the grace period is killed: it ends as a `crash` failure, "worker closed during the
   * poll".
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const proc = this.#proc;
      this.#proc = null;
      if (proc) {
        // A poll in flight gets up to graceMs to finish, so that a healthy driver is still asked to close and
        // releases what it holds (a FOCAS handle: a control allows only a few); a hung one is killed after it.
        if (this.#busy) await settledWithin(this.#queue, this.#graceMs);
        if (!this.#busy && proc.exit === null && proc.verdict === null) {
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

/** Resolves when `p` settles or after `ms`, whichever comes first; never rejects, leaves no timer behind. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => timer = setTimeout(r, ms))]);
  clearTimeout(timer);
}
