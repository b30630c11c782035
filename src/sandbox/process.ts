/**
 * One driver worker process as seen from the agent: spawn, one request at a time, replies matched by id,
 * stderr forwarded to the log, kill (SIGTERM, grace, SIGKILL) and reaping. The policy (when to recycle,
 * what counts as which failure) lives in machine_worker.ts.
 */
import type { Log } from "../log/mod.ts";
import { workerCommand } from "../runtime.ts";
import type { ConfinedCommand } from "./confine/mod.ts";
import { readChunks, readLines } from "./line_framing.ts";
import { ByteRate, type Dropped, type LogBudget, metered } from "./output_budget.ts";
import { oneLine, parseReply, type Reply, type Request } from "./protocol.ts";
import { newSecret, secretLine } from "./reply_auth.ts";

/** How a worker process ended. */
export interface ExitInfo {
  /** Exit code (128 + signal number when killed by a signal on POSIX). */
  readonly code: number;
  /** The signal that killed it, if any. */
  readonly signal: Deno.Signal | null;
}

/**
 * Why the agent killed a worker on its own initiative, at once, request outstanding or not: a forged or
 * unexpected reply (`protocol`), output over budget (`output`), measured memory or CPU over the cap
 * (`memory`, `cpu`; machine_worker.ts).
 */
export type CondemnCause = "protocol" | "output" | "memory" | "cpu";

/** What waiting for a reply produced. */
export type WaitResult =
  | { readonly kind: "reply"; readonly reply: Reply }
  | { readonly kind: "condemned"; readonly cause: CondemnCause; readonly message: string }
  | { readonly kind: "protocol"; readonly problem: string }
  | { readonly kind: "exit"; readonly exit: ExitInfo }
  | { readonly kind: "timeout" };

/** Options of {@link WorkerProcess.spawn}. */
export interface SpawnOptions {
  /** Where stderr lines go, tagged with the machine id. */
  readonly log: Log | null;
  /** Cap on one stdout line. */
  readonly maxLineBytes: number;
  /** OS confinement (src/sandbox/confine): the confined form of the worker command; absent: none. */
  readonly confine?: (self: { cmd: string; args: string[] }) => ConfinedCommand;
  /** The machine's stderr log allowance; one per machine, so it survives recycles. */
  readonly logBudget: LogBudget;
  /** Output rates: bytes per second and burst, for stdout and stderr (defaults: {@link outputBudgets}). */
  readonly budgets?: OutputBudgets;
  /** Called once when the agent kills the worker on its own initiative (see {@link CondemnCause}). */
  readonly onCondemned?: (cause: CondemnCause, message: string) => void;
}

/** Bytes per second and burst allowed on a worker's stdout and stderr. */
export interface OutputBudgets {
  readonly stdout: { readonly bytesPerSecond: number; readonly burstBytes: number };
  readonly stderr: { readonly bytesPerSecond: number; readonly burstBytes: number };
}

/**
 * Default output budgets. stdout: 1 MiB/s (or one maximal line a second) with a burst of four maximal lines,
 * so one poll's largest legal reply always passes; stderr: 64 KiB/s with a burst of 1 MiB (a driver's chatty
 * start-up or a stack trace passes; a flood does not).
 */
export function outputBudgets(maxLineBytes: number): OutputBudgets {
  return {
    stdout: { bytesPerSecond: Math.max(1 << 20, maxLineBytes), burstBytes: 4 * maxLineBytes + 65536 },
    stderr: { bytesPerSecond: 64 * 1024, burstBytes: 1 << 20 },
  };
}

/** Environment variables a worker keeps; everything else (api keys...) stays in the agent. */
const ENV_KEEP = [
  "HOME",
  "USERPROFILE",
  "LOCALAPPDATA",
  "APPDATA",
  "XDG_CACHE_HOME",
  "DENO_DIR",
  "DENO_NO_UPDATE_CHECK",
  // Honoured by `deno run` (not by compiled binaries): lets a from-source run try V8 flags on the workers.
  "DENO_V8_FLAGS",
  "PATH",
  "SYSTEMROOT",
  "SystemRoot",
  "TEMP",
  "TMP",
  "TMPDIR",
  "NO_COLOR",
  "LANG",
  "TZ",
  // Native libraries loaded through FFI may need to find their own dependencies.
  "LD_LIBRARY_PATH",
  // Harmless, since workers run with --cached-only (src/runtime.ts workerCommand) and never fetch; kept so a
  // test can point it at a local registry and prove that no request is made.
  "NPM_CONFIG_REGISTRY",
  "JSR_URL",
];

function workerEnv(overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ENV_KEEP) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...overrides };
}

const STDERR_LINE_BYTES = 4096;
const STDERR_TAIL = 8;

/** A running (or ended) worker process. */
export class WorkerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #machineId: string;
  readonly #log: Log | null;
  #waiter: { id: number; resolve: (r: WaitResult) => void } | null = null;
  #exit: ExitInfo | null = null;
  /** Resolves once the process has exited, been reaped, and its stdout and stderr are drained. */
  readonly exited: Promise<ExitInfo>;
  /** Last lines of stderr, for crash messages. */
  readonly stderrTail: string[] = [];
  /** Last `fatal` message the worker sent, if any. */
  fatal: string | null = null;
  /** Why the agent killed this worker on its own initiative (the first reason), else null. */
  verdict: { readonly cause: CondemnCause; readonly message: string } | null = null;
  /** The worker's process id. */
  readonly pid: number;
  readonly #secret: string;
  readonly #opts: SpawnOptions;

  private constructor(child: Deno.ChildProcess, machineId: string, opts: SpawnOptions, secret: string) {
    this.#child = child;
    this.pid = child.pid;
    this.#machineId = machineId;
    this.#log = opts.log;
    this.#opts = opts;
    this.#secret = secret;
    this.#writer = child.stdin.getWriter();
    // The secret goes first, before the worker has started any driver code (reply_auth.ts).
    this.#writer.write(new TextEncoder().encode(secretLine(secret))).catch(() => {});
    const budgets = opts.budgets ?? outputBudgets(opts.maxLineBytes);
    const meter = (name: "stdout" | "stderr", stream: ReadableStream<Uint8Array>, chunkBytes: number) =>
      metered(
        readChunks(stream, chunkBytes),
        new ByteRate(budgets[name].bytesPerSecond, budgets[name].burstBytes),
        (total) =>
          this.condemn(
            "output",
            `${name} over its budget of ${budgets[name].bytesPerSecond} bytes/s (burst ${
              budgets[name].burstBytes
            }): ${total} bytes read, reading stopped`,
          ),
      );
    // A pipe that errors (rather than ends) must not leave `exited` rejected: it counts as ended.
    const out = this.#readStdout(meter("stdout", child.stdout, 8192), opts.maxLineBytes)
      .catch((e) => this.#problem(`stdout: ${String(e)}`));
    const err = this.#readStderr(meter("stderr", child.stderr, 2048)).catch(() => {});
    this.exited = Promise.all([child.status, out, err]).then(([s]) => {
      const info: ExitInfo = { code: s.code, signal: s.signal };
      this.#exit = info;
      this.#settle({ kind: "exit", exit: info });
      return info;
    });
  }

  /**
   * Starts `simco-agent __worker --machine ID` with a fresh secret. `env` overrides the kept environment
   * (the scratch HOME); the confinement's own environment comes last. Throws when the process cannot be
   * started.
   */
  static spawn(machineId: string, opts: SpawnOptions, env: Record<string, string> = {}): WorkerProcess {
    const self = workerCommand(["__worker", "--machine", machineId]);
    const c = opts.confine?.(self);
    const child = new Deno.Command(c?.cmd ?? self.cmd, {
      args: c?.args ?? self.args,
      clearEnv: true,
      env: { ...workerEnv(env), ...self.env, ...c?.env },
      cwd: c?.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proc = new WorkerProcess(child, machineId, opts, newSecret());
    try {
      c?.afterSpawn(child);
    } catch (e) {
      void proc.kill(0, true);
      throw e;
    }
    return proc;
  }

  /**
   * Kills the worker at once (SIGKILL) for `cause`, stops waiting for a reply (the wait ends as `condemned`)
   * and tells the owner. Only the first verdict counts.
   */
  condemn(cause: CondemnCause, message: string): void {
    if (this.verdict !== null || this.#exit !== null) return;
    this.verdict = { cause, message: oneLine(message) };
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    this.#settle({ kind: "condemned", ...this.verdict });
    this.#opts.onCondemned?.(cause, this.verdict.message);
  }

  /** Exit status once the process has ended, else null. */
  get exit(): ExitInfo | null {
    return this.#exit;
  }

  async #readStdout(chunks: AsyncIterable<Uint8Array>, maxLineBytes: number): Promise<void> {
    for await (const item of readLines(chunks, maxLineBytes)) {
      if ("overflow" in item) {
        this.#problem(`reply line longer than ${maxLineBytes} bytes (${item.overflow} bytes)`);
        continue;
      }
      if (item.line === "") continue;
      const parsed = parseReply(item.line, this.#secret);
      if (!parsed.ok) {
        this.#problem(parsed.problem);
        continue;
      }
      const reply = parsed.reply;
      if (reply.type === "fatal") {
        this.fatal = reply.message;
        continue;
      }
      const id = reply.type === "hello" ? 0 : reply.id;
      if (this.#waiter === null || this.#waiter.id !== id) {
        this.#problem(
          this.#waiter === null
            ? `unexpected ${reply.type} reply while no request was outstanding${
              reply.type === "error" ? ` (${reply.message})` : ""
            }`
            : `reply to request ${id} while waiting for request ${this.#waiter.id}`,
        );
        continue;
      }
      this.#settle({ kind: "reply", reply });
    }
  }

  async #readStderr(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const budget = this.#opts.logBudget;
    const props = { machine: this.#machineId, pid: this.pid };
    const suppressed = (d: Dropped | null) => {
      if (d) {
        this.#log?.warn(
          `machine ${this.#machineId} worker: ${d.bytes} more stderr bytes (${d.lines} lines) not logged`,
          props,
        );
      }
    };
    for await (const item of readLines(chunks, STDERR_LINE_BYTES)) {
      const line = "overflow" in item
        ? `(stderr line of ${item.overflow} bytes dropped)`
        : oneLine(item.line, STDERR_LINE_BYTES);
      if (line === "") continue;
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
      const { pass, dropped } = budget.offer("overflow" in item ? item.overflow : item.line.length + 1);
      suppressed(dropped);
      if (!pass) continue;
      // A driver marks a line's level by its first word (drivers/README.md); anything else is info.
      const level = /^WARN(ING)?\b/.test(line) ? "warn" : /^ERROR\b/.test(line) ? "error" : "info";
      this.#log?.[level](`machine ${this.#machineId} worker: ${line}`, props);
    }
    suppressed(budget.flush());
  }

  /** A protocol problem: the wait ends with it; while no request is outstanding the worker is killed at once. */
  #problem(problem: string): void {
    if (this.#waiter) this.#settle({ kind: "protocol", problem });
    else this.condemn("protocol", problem);
  }

  #settle(r: WaitResult): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.resolve(r);
  }

  /**
   * Sends `req` (or nothing, for id 0: the hello) and waits up to `timeoutMs` for the reply with its id. A
   * violation already seen, or an exit, ends the wait at once.
   */
  async request(req: Request | null, timeoutMs: number): Promise<WaitResult> {
    if (this.verdict !== null) return { kind: "condemned", ...this.verdict };
    if (this.#exit !== null) return { kind: "exit", exit: this.#exit };
    const id = req?.id ?? 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = new Promise<WaitResult>((resolve) => {
      this.#waiter = { id, resolve };
      timer = setTimeout(() => this.#settle({ kind: "timeout" }), timeoutMs);
    });
    if (req) {
      // A dead pipe shows up as the exit, which settles the wait.
      this.#writer.write(new TextEncoder().encode(JSON.stringify(req) + "\n")).catch(() => {});
    }
    const r = await result;
    clearTimeout(timer);
    return r;
  }

  /**
   * Ends the process: closes its stdin (a healthy worker exits on that), then SIGTERM after `graceMs`, then
   * SIGKILL after another `graceMs`. Resolves once it is reaped. Idempotent.
   */
  async kill(graceMs: number, signalFirst = false): Promise<ExitInfo> {
    this.#writer.close().catch(() => {});
    if (this.#exit) return this.#exit;
    const steps: (Deno.Signal | null)[] = signalFirst ? ["SIGTERM", "SIGKILL"] : [null, "SIGTERM", "SIGKILL"];
    for (const sig of steps) {
      if (sig) {
        try {
          this.#child.kill(sig);
        } catch {
          // Already exited between the check and the signal.
        }
      }
      if (sig === "SIGKILL") break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        this.exited.then(() => true),
        new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), graceMs)),
      ]);
      clearTimeout(timer);
      if (done) break;
    }
    return await this.exited;
  }
}
