/**
 * The `simco-agent` command line: finds the subcommand, parses its arguments, runs it, and turns every
 * user mistake into one line plus usage (exit 2) and every runtime failure into one line (exit 1). Stack
 * traces are printed only with SIMCO_DEBUG=1.
 */
import { DataDirLockedError } from "../buffer/mod.ts";
import { ConfigError } from "../config/load.ts";
import { formatProblem } from "../config/types.ts";
import { VERSION } from "../version.ts";
import { didYouMean } from "../util/suggest.ts";
import { commandHelp, parseArgs, usageLine } from "./args.ts";
import { COMMANDS } from "./commands/all.ts";
import { type Command, EXIT, RejectedRecords, RuntimeFailure, UsageError } from "./command.ts";

/** Top-level help: every visible command with its summary. */
export function mainHelp(): string {
  const visible = COMMANDS.filter((c) => !c.hidden);
  const width = Math.max(...visible.map((c) => c.name.length)) + 2;
  return [
    `simco-agent ${VERSION}: shop-floor telemetry agent (polls CNC machines, buffers, uploads to the SIMCO cloud)`,
    "",
    "Usage: simco-agent <command> [arguments] [flags]",
    "",
    "Commands:",
    ...visible.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Flags: -h, --help (also after any command, or: simco-agent help <command>), --version",
    "--config FILE defaults to ./machines.toml in the current folder.",
    "Exit codes (every command): 0 success, 1 runtime failure, 2 usage or configuration error,",
    "3 data dir in use by another simco-agent, 4 done but the cloud rejected some records,",
    "5 nothing to export, 130 forced stop.",
  ].join("\n");
}

/** Writes to stderr. */
function err(text: string): void {
  console.error(text);
}

/** Runs the CLI with the given arguments and resolves to the exit code. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    err(mainHelp());
    return EXIT.USAGE;
  }
  if (name === "-h" || name === "--help" || name === "help") {
    // `help run` is `run --help`.
    if (name === "help" && rest.length > 0) return helpFor(rest[0]);
    console.log(mainHelp());
    return EXIT.OK;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(`simco-agent ${VERSION} (deno ${Deno.version.deno})`);
    return EXIT.OK;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) return unknown(name);
  return await runCommand(cmd, rest);
}

/** `unknown command "x"; did you mean ...` (or flag: `--verison` suggests `--version`), then help; exit 2. */
function unknown(name: string): number {
  const flag = name.startsWith("-");
  const words = flag ? ["--help", "--version"] : COMMANDS.filter((c) => !c.hidden).map((c) => c.name);
  err(`simco-agent: unknown ${flag ? "flag" : "command"} "${name}"${didYouMean(name, words)}`);
  err(mainHelp());
  return EXIT.USAGE;
}

function helpFor(name: string): number {
  const cmd = COMMANDS.find((c) => c.name === name && !c.hidden);
  if (!cmd) return unknown(name);
  console.log(commandHelp(cmd));
  return EXIT.OK;
}

async function runCommand(cmd: Command, argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseArgs(cmd, argv);
    if (parsed.help) {
      console.log(commandHelp(cmd));
      return EXIT.OK;
    }
    return await cmd.run(parsed.args);
  } catch (e) {
    return reportError(cmd, e);
  }
}

/** Prints an error the way the CLI promises (one line, no stack trace) and returns its exit code. */
export function reportError(cmd: Command, e: unknown): number {
  if (e instanceof UsageError) {
    err(`simco-agent ${cmd.name}: ${e.message}`);
    if (e.showUsage) err(`Usage: ${usageLine(cmd)}  (see simco-agent ${cmd.name} --help)`);
    return EXIT.USAGE;
  }
  if (e instanceof ConfigError) {
    for (const p of e.problems) err(formatProblem(p));
    err(
      `simco-agent ${cmd.name}: configuration has ${e.problems.length} problem${
        e.problems.length === 1 ? "" : "s"
      }`,
    );
    return EXIT.USAGE;
  }
  if (e instanceof DataDirLockedError) {
    err(
      `simco-agent ${cmd.name}: error: ${e.message}; stop it first (drain, status and poll work beside it)`,
    );
    return EXIT.DATA_DIR_IN_USE;
  }
  if (e instanceof RejectedRecords) {
    err(`simco-agent ${cmd.name}: ${e.message}`);
    return EXIT.REJECTED;
  }
  const message = e instanceof Error ? e.message : String(e);
  err(`simco-agent ${cmd.name}: error: ${message.split("\n")[0]}`);
  if (Deno.env.get("SIMCO_DEBUG") === "1" && e instanceof Error && !(e instanceof RuntimeFailure)) {
    err(e.stack ?? "");
  }
  return EXIT.FAILURE;
}
