/**
 * Reads machines.toml from disk and hands its text to the pure parser. Everything that can go wrong before
 * parsing (missing file, a folder, unreadable, invalid UTF-8) becomes one {@link ConfigProblem}.
 */
import { resolve } from "node:path";
import { parseConfig, type ParseResult } from "./parse.ts";
import type { Config, ConfigProblem, MachineConfig } from "./types.ts";
import { formatProblem } from "./types.ts";
import { lineOf, locateKeys } from "./key_lines.ts";
import { describeDriver } from "../../drivers/registry.ts";
import type { DriverDescription } from "../../drivers/types.ts";
import { resolveLibraryFile } from "../util/library_file.ts";

/** Thrown by {@link loadConfigOrThrow}; carries every problem, each printable as one line. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

/** Returns the 0-based offset of the first byte that starts an invalid UTF-8 sequence (bytes.length if none). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const len = b < 0x80
      ? 1
      : b >= 0xc2 && b <= 0xdf
      ? 2
      : b >= 0xe0 && b <= 0xef
      ? 3
      : b >= 0xf0 && b <= 0xf4
      ? 4
      : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let k = 1; k < len; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    // Overlong 3/4-byte forms, surrogates and code points past U+10FFFF.
    const b1 = bytes[i + 1];
    if (
      (b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) ||
      (b === 0xf4 && b1 > 0x8f)
    ) {
      return i;
    }
    i += len;
  }
  return i;
}

/** Decodes UTF-8 strictly; on failure names the line and byte offset of the first bad byte. */
function decodeUtf8(bytes: Uint8Array, file: string): { text: string } | { problem: ConfigProblem } {
  try {
    let text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text };
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1;
    return {
      problem: {
        file,
        line,
        key: "",
        message: `invalid UTF-8 at byte offset ${offset} (expected a UTF-8 text file; save it as UTF-8)`,
      },
    };
  }
}

/**
 * Loads and validates a configuration file.
 * @param file the path as the user gave it
 * @param cwd folder that relative paths on the command line are relative to
 */
export async function loadConfig(file: string, cwd = Deno.cwd()): Promise<ParseResult> {
  const read = await readConfigText(file, cwd);
  if ("problem" in read) return { ok: false, problems: [read.problem] };
  const parsed = parseConfig(read.text, file, read.absPath);
  if (!parsed.ok) return parsed;
  const problems = libraryProblems(parsed.config.machines, read.text, file);
  return problems.length ? { ok: false, problems } : parsed;
}

/**
 * The file check the pure parser cannot do: every driver library option names a regular file (the sandbox
 * grants its resolved path). Problems name the key and its line in `text`. `describe` is the registry's (a
 * test may pass a test driver's description).
 */
export function libraryProblems(
  machines: readonly Pick<MachineConfig, "driver" | "options">[],
  text: string,
  file: string,
  describe: (name: string) => DriverDescription | undefined = describeDriver,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  let lines: Map<string, number> | null = null;
  machines.forEach((m, i) => {
    const key = describe(m.driver)?.libraryOption;
    const lib = key ? m.options[key] : undefined;
    if (!key || typeof lib !== "string" || lib === "") return;
    const r = resolveLibraryFile(lib);
    if (!("problem" in r)) return;
    const path = `machines[${i}].options.${key}`;
    lines ??= locateKeys(text);
    problems.push({ file, line: lineOf(lines, path), key: path, message: r.problem });
  });
  return problems;
}

/**
 * Reads a configuration file as strict UTF-8 text; every failure is one {@link ConfigProblem} naming the
 * file. For parsers other than {@link parseConfig} (uplink_only.ts).
 */
export async function readConfigText(
  file: string,
  cwd = Deno.cwd(),
): Promise<{ text: string; absPath: string } | { problem: ConfigProblem }> {
  const absPath = resolve(cwd, file);
  const fail = (message: string) => ({ problem: { file, key: "", message } });
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(absPath);
    if (info.isDirectory) return fail(`is a directory (expected a TOML file such as ${file}/machines.toml)`);
    bytes = await Deno.readFile(absPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return fail(`file not found (looked for ${absPath})`);
    if (e instanceof Deno.errors.PermissionDenied) return fail(`permission denied reading ${absPath}`);
    return fail(`cannot read ${absPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const decoded = decodeUtf8(bytes, file);
  if ("problem" in decoded) return decoded;
  return { text: decoded.text, absPath };
}

/** Like {@link loadConfig} but throws a {@link ConfigError} with every problem. */
export async function loadConfigOrThrow(file: string, cwd = Deno.cwd()): Promise<Config> {
  const result = await loadConfig(file, cwd);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}
