/**
 * One driver worker process as seen from the agent: spawn, one request at a time, replies matched by id,
 * stderr forwarded to the log, kill (SIGTERM, grace, SIGKILL) and reaping. The policy (when to recycle,
 * what counts as which failure) lives in machine_worker.ts.
 */
import type { Log } from "../log/mod.ts";
import { selfCommand } from "../runtime.ts";
import type { ConfinedCommand } from "./confine/mod.ts";
import { readLines } from "./line_framing.ts";
import { oneLine, parseReply, type Reply, type Request } from "./protocol.ts";

/** How a worker process ended. */
export interface ExitInfo {
  /** Exit code (128 + signal number when killed by a signal on POSIX). */
  readonly code: number;
  /** The signal that killed it, if any. */
  readonly signal: Deno.Signal | null;
}

/** What waiting for a reply produced. */
export type WaitResult =
  | { readonly kind: "reply"; readonly reply: Reply }
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
];

function workerEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ENV_KEEP) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

const STDERR_LINE_BYTES = 4096;
const STDERR_TAIL = 8;

/**
 * Caps how many stderr lines of one worker reach the log: `max` per `windowMs`; the rest are counted and
 * reported as one line when the next window opens (or the process ends). Pure; the clock is injected.
 */
export class LineLimiter {
  #windowStart = -Infinity;
  #count = 0;
  #suppressed = 0;

  constructor(readonly max: number, readonly windowMs: number, readonly now: () => number = Date.now) {}

  /**
   * Decides for one line. `pass`: log it; `suppressedBefore`: lines dropped in the window that just closed
   * (report them first).
   */
  offer(): { pass: boolean; suppressedBefore: number } {
    const t = this.now();
    let suppressedBefore = 0;
    if (t - this.#windowStart >= this.windowMs) {
      suppressedBefore = this.#suppressed;
      this.#windowStart = t;
      this.#count = 0;
      this.#suppressed = 0;
    }
    if (this.#count < this.max) {
      this.#count++;
      return { pass: true, suppressedBefore };
    }
    this.#suppressed++;
    return { pass: false, suppressedBefore };
  }

  /** Lines dropped in the current window and not reported yet (resets the count). */
  flush(): number {
    const n = this.#suppressed;
    this.#suppressed = 0;
    return n;
  }
}

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
  /** A protocol violation seen while no request was outstanding. */
  violation: string | null = null;
  /** Last resident memory the worker reported, in bytes (0 before the first report). */
  rss = 0;
  /** The worker's process id. */
  readonly pid: number;

  private constructor(child: Deno.ChildProcess, machineId: string, opts: SpawnOptions) {
    this.#child = child;
    this.pid = child.pid;
    this.#machineId = machineId;
    this.#log = opts.log;
    this.#writer = child.stdin.getWriter();
    // A pipe that errors (rather than ends) must not leave `exited` rejected: it counts as ended.
    const out = this.#readStdout(opts.maxLineBytes).catch((e) => this.#problem(`stdout: ${String(e)}`));
    const err = this.#readStderr().catch(() => {});
    this.exited = Promise.all([child.status, out, err]).then(([s]) => {
      const info: ExitInfo = { code: s.code, signal: s.signal };
      this.#exit = info;
      this.#settle({ kind: "exit", exit: info });
      return info;
    });
  }

  /** Starts `simco-agent __worker --machine ID`. Throws when the process cannot be started. */
  static spawn(machineId: string, opts: SpawnOptions): WorkerProcess {
    const self = selfCommand(["__worker", "--machine", machineId]);
    const c = opts.confine?.(self);
    const child = new Deno.Command(c?.cmd ?? self.cmd, {
      args: c?.args ?? self.args,
      clearEnv: true,
      env: { ...workerEnv(), ...self.env, ...c?.env },
      cwd: c?.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const proc = new WorkerProcess(child, machineId, opts);
    try {
      c?.afterSpawn(child);
    } catch (e) {
      void proc.kill(0, true);
      throw e;
    }
    return proc;
  }

  /** Exit status once the process has ended, else null. */
  get exit(): ExitInfo | null {
    return this.#exit;
  }

  async #readStdout(maxLineBytes: number): Promise<void> {
    for await (const item of readLines(this.#child.stdout, maxLineBytes)) {
      if ("overflow" in item) {
        this.#problem(`reply line longer than ${maxLineBytes} bytes (${item.overflow} bytes)`);
        continue;
      }
      if (item.line === "") continue;
      const parsed = parseReply(item.line);
      if (!parsed.ok) {
        this.#problem(parsed.problem);
        continue;
      }
      const reply = parsed.reply;
      if (reply.type === "fatal") {
        this.fatal = reply.message;
        continue;
      }
      this.rss = reply.rss;
      const id = reply.type === "hello" ? 0 : reply.id;
      if (this.#waiter === null || this.#waiter.id !== id) {
        this.#problem(
          this.#waiter === null
            ? `unexpected ${reply.type} reply while no request was outstanding`
            : `reply to request ${id} while waiting for request ${this.#waiter.id}`,
        );
        continue;
      }
      this.#settle({ kind: "reply", reply });
    }
  }

  async #readStderr(): Promise<void> {
    const limiter = new LineLimiter(100, 60_000);
    const props = { machine: this.#machineId, pid: this.pid };
    const suppressed = (n: number) => {
      if (n > 0) {
        this.#log?.warn(`machine ${this.#machineId} worker: ${n} more stderr lines not logged`, props);
      }
    };
    for await (const item of readLines(this.#child.stderr, STDERR_LINE_BYTES, 2048)) {
      const line = "overflow" in item
        ? `(stderr line of ${item.overflow} bytes dropped)`
        : oneLine(item.line, STDERR_LINE_BYTES);
      if (line === "") continue;
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
      const { pass, suppressedBefore } = limiter.offer();
      suppressed(suppressedBefore);
      if (!pass) continue;
      // A driver marks a line's level by its first word (drivers/README.md); anything else is info.
      const level = /^WARN(ING)?\b/.test(line) ? "warn" : /^ERROR\b/.test(line) ? "error" : "info";
      this.#log?.[level](`machine ${this.#machineId} worker: ${line}`, props);
    }
    suppressed(limiter.flush());
  }

  #problem(problem: string): void {
    if (this.#waiter) this.#settle({ kind: "protocol", problem });
    else this.violation ??= problem;
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
    if (this.violation !== null) return { kind: "protocol", problem: this.violation };
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
