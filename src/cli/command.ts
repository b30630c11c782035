/** Types shared by the CLI's subcommands, and the errors that map to exit codes. */
import { formatDuration, parseDuration } from "../config/duration.ts";
import { loadConfigOrThrow } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { userCwd } from "../runtime.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Process exit codes, the same for every command (the table in README.md; tests/exit_codes_test.ts). */
export const EXIT = Object.freeze({
  /** Success. */
  OK: 0,
  /** Runtime failure (including `drain` stopping with records left). */
  FAILURE: 1,
  /** Usage or configuration error. */
  USAGE: 2,
  /** The data dir is in use by another simco-agent process (e.g. `run`). */
  DATA_DIR_IN_USE: 3,
  /** Finished, but the cloud rejected some records (dead letters, or a `.rejected.ndjson` file). */
  REJECTED: 4,
  /** `run` forced to exit by a second stop signal. */
  FORCED: 130,
  /** Nothing to do: `export` found no records to write (no file written). */
  NOTHING: 5,
});

/** Finished, but the cloud rejected some records: the message says where they are; exit code 4. */
export class RejectedRecords extends Error {
  override name = "RejectedRecords";
}

/** A flag a subcommand accepts. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `config`. */
  readonly name: string;
  /** `string` takes a value (`--config FILE` or `--config=FILE`); `boolean` does not. */
  readonly type: "string" | "boolean";
  /** Placeholder shown in help, e.g. `FILE`. */
  readonly value?: string;
  /** One line of help. */
  readonly description: string;
  /** Whether the flag must be given. */
  readonly required?: boolean;
}

/** A positional argument. */
export interface PositionalSpec {
  /** Name shown in help, e.g. `MACHINE_ID`. */
  readonly name: string;
  /** One line of help. */
  readonly description: string;
  /** Allowed values, when the positional is a fixed word (e.g. `list`). */
  readonly values?: readonly string[];
}

/** Parsed arguments handed to a subcommand. */
export interface ParsedArgs {
  /** Flag values by long name; booleans are true when present. */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** Positionals in order. */
  readonly positionals: readonly string[];
}

/** One subcommand. */
export interface Command {
  /** The word after `simco-agent`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** More help, shown by `simco-agent <name> --help`. */
  readonly details?: string;
  /** Accepted flags (`--help` is implicit). */
  readonly flags: readonly FlagSpec[];
  /** Positional arguments, all required. */
  readonly positionals: readonly PositionalSpec[];
  /** Hidden commands (the worker entry point) are left out of help. */
  readonly hidden?: boolean;
  /** Runs the command; resolves to the exit code. */
  run(args: ParsedArgs): Promise<number>;
}

/** A mistake in how the program was called or configured: one-line message, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** @param showUsage whether to print the command's usage after the message */
  constructor(message: string, readonly showUsage = false) {
    super(message);
  }
}

/** A failure the user should see as one line without a stack trace; exit code 1. */
export class RuntimeFailure extends Error {
  override name = "RuntimeFailure";
}

/** The config file used when `--config` is not given, in the current folder. */
export const DEFAULT_CONFIG = "machines.toml";

/** The `--config FILE` flag, shared by most commands. */
export const CONFIG_FLAG: FlagSpec = {
  name: "config",
  type: "string",
  value: "FILE",
  description: `the machines.toml to use (default: ./${DEFAULT_CONFIG})`,
};

/**
 * Loads the configuration named by `--config` (relative to the user's folder), or `./machines.toml` when the
 * flag is absent (a UsageError saying where it looked when there is none). Throws ConfigError.
 */
export function configFrom(args: ParsedArgs): Promise<Config> {
  const file = args.flags.config;
  if (typeof file === "string") return loadConfigOrThrow(file, userCwd());
  const path = join(userCwd(), DEFAULT_CONFIG);
  if (!existsSync(path)) {
    throw new UsageError(
      `no --config FILE given, and no ${DEFAULT_CONFIG} in the current folder (looked for ${path})`,
      true,
    );
  }
  return loadConfigOrThrow(DEFAULT_CONFIG, userCwd());
}

/**
 * Reads a duration flag (`--timeout 10m`): milliseconds, or null when the flag is absent. Throws a UsageError
 * naming the flag when the value is not a duration of at least `minMs`.
 */
export function durationFlag(args: ParsedArgs, name: string, minMs = 1): number | null {
  const text = args.flags[name];
  if (typeof text !== "string") return null;
  const ms = parseDuration(text);
  if (ms === null || ms < minMs) {
    throw new UsageError(
      `--${name}: expected a duration such as 30s or 10m${
        minMs > 1 ? ` (at least ${formatDuration(minMs)})` : ""
      }, got "${text}"`,
      true,
    );
  }
  return ms;
}
