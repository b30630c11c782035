/**
 * Manual commands (drain, export, upload, dead-letters requeue/purge) change what the agent holds, so each
 * leaves one line in `<data_dir>/logs/agent.log`: who ran what, with what result. The person reading the log
 * after "records went missing" then sees the `purge` at 14:02 beside the agent's own lines.
 */
import type { Config } from "../config/types.ts";
import { dataDirExists } from "../datadir/mod.ts";
import { FILE_ONLY, getLog, setupLogging, shutdownLogging } from "../log/mod.ts";
import { EXIT, RejectedRecords, UsageError } from "./command.ts";
import { ConfigError } from "../config/load.ts";
import { DataDirLockedError } from "../datadir/lock.ts";

const logged = new WeakSet<Error>();

/** The exit code the CLI gives `e` (src/cli/mod.ts reportError), for the audit line. */
function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.USAGE;
  if (e instanceof DataDirLockedError) return EXIT.DATA_DIR_IN_USE;
  if (e instanceof RejectedRecords) return EXIT.REJECTED;
  return EXIT.FAILURE;
}

/** The user who runs this process, as the OS environment says (sudo's caller first). */
export function invokingUser(): string {
  for (const v of ["SUDO_USER", "USER", "USERNAME", "LOGNAME"]) {
    const u = Deno.env.get(v);
    if (u) return u;
  }
  return Deno.build.os === "windows" ? "unknown user" : `uid ${Deno.uid() ?? "?"}`;
}

/** What a manual command reports: its exit code and a one-line result (printed to stdout as well). */
export interface ManualResult {
  /** Exit code. */
  readonly code: number;
  /** One line, e.g. `done, 120 records sent, buffer empty`. */
  readonly result: string;
  /** Where the result is printed (default stdout; e.g. export's "nothing to export" goes to stderr). */
  readonly stream?: "stdout" | "stderr";
  /** Thrown after the result was printed and logged (a partial success with its own exit code). */
  readonly thenThrow?: Error;
}

/**
 * Runs a manual command with logging to agent.log (console at `consoleLevel`, default: warnings only) and
 * leaves the audit line. `agent.log` is written only when the data dir exists, or when `createsDataDir` (the
 * command opens the buffer anyway); `upload` on a PC that never ran the agent creates nothing.
 */
export async function audited(
  config: Pick<Config, "agent">,
  what: string,
  fn: () => Promise<ManualResult>,
  opts: { createsDataDir?: boolean; consoleLevel?: "debug" | "info" | "warning" | "error" } = {},
): Promise<number> {
  const toFile = opts.createsDataDir === true || dataDirExists(config.agent.dataDir);
  await setupLogging({
    level: config.agent.logLevel,
    consoleLevel: opts.consoleLevel ?? "warning",
    format: config.agent.logFormat,
    dataDir: toFile ? config.agent.dataDir : null,
  });
  const log = getLog("cli");
  const who = `${invokingUser()} (pid ${Deno.pid})`;
  try {
    const r = await fn();
    (r.stream === "stderr" ? console.error : console.log)(r.result);
    log.info(`manual command by ${who}: simco-agent ${what}: ${r.result}; exit ${r.code}`, {
      [FILE_ONLY]: true,
    });
    if (r.thenThrow) {
      logged.add(r.thenThrow);
      throw r.thenThrow;
    }
    return r.code;
  } catch (e) {
    if (e instanceof Error && logged.has(e)) throw e;
    const code = exitCodeOf(e);
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    // The CLI prints the error itself; the audit line goes to the file only.
    log.warn(`manual command by ${who}: simco-agent ${what}: ${msg}; exit ${code}`, { [FILE_ONLY]: true });
    throw e;
  } finally {
    await shutdownLogging();
  }
}
