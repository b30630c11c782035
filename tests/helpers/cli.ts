/**
 * Runs the real CLI as a subprocess (`deno run <RUNTIME_FLAGS> main.ts ...`, the same code path as the compiled
 * binary) and captures its exit code and output.
 */
import { selfCommand } from "../../src/runtime.ts";

/** Result of one CLI run. */
export interface CliResult {
  /** Exit code. */
  readonly code: number;
  /** Standard output, decoded. */
  readonly stdout: string;
  /** Standard error, decoded. */
  readonly stderr: string;
}

/** Runs `simco-agent <args>` to completion in `cwd` with extra environment variables. */
export async function runCli(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<CliResult> {
  const { cmd, args: argv } = selfCommand(args);
  const child = new Deno.Command(cmd, {
    args: argv,
    cwd: opts.cwd,
    // `deno task` sets INIT_CWD, which the CLI treats as the user's folder under `deno run`; keep it truthful.
    env: { NO_COLOR: "1", INIT_CWD: opts.cwd ?? Deno.cwd(), ...opts.env },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A long-running CLI subprocess (e.g. `run`) whose stderr is collected. */
export interface CliProcess {
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** Its pid. */
  readonly pid: number;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Everything it wrote to stdout so far. */
  stdout(): string;
  /** Resolves with the exit status once stderr and stdout are read to the end. */
  readonly status: Promise<Deno.CommandStatus>;
}

/** Starts `simco-agent <args>` in `cwd` without waiting for it (stdin closed, stdout and stderr collected). */
export function spawnCli(
  args: readonly string[],
  opts: { cwd: string; env?: Record<string, string> },
): CliProcess {
  const { cmd, args: argv } = selfCommand(args);
  return spawnCollecting(cmd, {
    args: argv,
    cwd: opts.cwd,
    env: { NO_COLOR: "1", INIT_CWD: opts.cwd, ...opts.env },
  });
}

/** Starts any command (e.g. a bundle's launcher) with stdin closed, collecting its stderr and stdout. */
export function spawnCollecting(cmd: string, opts: Deno.CommandOptions): CliProcess {
  const child = new Deno.Command(cmd, { ...opts, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  const text = { stdout: "", stderr: "" };
  const collect = async (name: "stdout" | "stderr") => {
    const dec = new TextDecoder();
    for await (const chunk of child[name]) text[name] += dec.decode(chunk, { stream: true });
  };
  const reading = Promise.all([collect("stdout"), collect("stderr")]);
  const status = child.status.then(async (s) => {
    await reading;
    return s;
  });
  return { child, pid: child.pid, stderr: () => text.stderr, stdout: () => text.stdout, status };
}
