/**
 * The uplink settings of `upload` on a connected office PC, which has no machines and no buffer: from
 * `--url`/`--api-key-env`/`--api-key-file` alone, from a config holding only `[uplink]`, or from a full
 * machines.toml (then validated completely, as every command does). Flags override the file. Pure: the
 * caller reads the file (load.ts).
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { dirname, isAbsolute, resolve } from "node:path";
import { locateKeys } from "./key_lines.ts";
import { parseConfig, readUplink } from "./parse.ts";
import { isTable, Reader, type Table } from "./reader.ts";
import type { AgentSection, ConfigProblem, UplinkSection } from "./types.ts";

/** Uplink values given on the command line (each replaces the file's key of the same name). */
export interface UplinkOverrides {
  /** `--url` */
  readonly url?: string;
  /** `--api-key-env` */
  readonly api_key_env?: string;
  /** `--api-key-file` (relative to `cwd`) */
  readonly api_key_file?: string;
}

/**
 * Result of {@link parseUplinkConfig}. `agent` is the `[agent]` of a full machines.toml (its data dir gets the
 * audit line and the counters), null for flags alone or an `[uplink]`-only file.
 */
export type UplinkResult =
  | { ok: true; uplink: UplinkSection; agent: AgentSection | null }
  | { ok: false; problems: ConfigProblem[] };

/**
 * Builds the `[uplink]` settings from an optional config text and command-line overrides.
 * @param config the file's text, name (for messages) and absolute path, or null without `--config`
 * @param cwd folder that `--api-key-file` is relative to
 */
export function parseUplinkConfig(
  config: { text: string; file: string; absPath: string } | null,
  overrides: UplinkOverrides,
  cwd: string,
): UplinkResult {
  let doc: Table = {};
  if (config) {
    try {
      doc = parseToml(config.text) as Table;
    } catch (e) {
      if (!(e instanceof TomlError)) throw e;
      return parseConfig(config.text, config.file, config.absPath) as UplinkResult; // the syntax problem
    }
    if (doc.agent !== undefined || doc.machines !== undefined) {
      const full = parseConfig(config.text, config.file, config.absPath);
      if (!full.ok) return full;
      const r = applyOverrides(full.config.uplink, overrides, cwd);
      return r.ok ? { ...r, agent: full.config.agent } : r;
    }
  }
  const file = config?.file ?? "command line";
  const r = new Reader(file, config ? locateKeys(config.text) : new Map());
  const base = config ? dirname(config.absPath) : cwd;
  for (const k of Object.keys(doc)) {
    if (k !== "uplink") {
      r.problem(
        k,
        "unexpected here: a config for upload holds [uplink] alone (or is a full machines.toml with [agent] and [[machines]])",
      );
    }
  }
  const up = isTable(doc.uplink) ? { ...doc.uplink } : doc.uplink;
  const uplink = readUplink(r, { ...doc, uplink: up }, (p) => (isAbsolute(p) ? p : resolve(base, p)));
  if (r.problems.length) return { ok: false, problems: r.problems };
  return applyOverrides(uplink, overrides, cwd);
}

function applyOverrides(uplink: UplinkSection, o: UplinkOverrides, cwd: string): UplinkResult {
  const r = new Reader("command line", new Map());
  const flags: Table = {};
  if (o.url !== undefined) flags.url = o.url;
  if (o.api_key_env !== undefined) flags.api_key_env = o.api_key_env;
  if (o.api_key_file !== undefined) flags.api_key_file = o.api_key_file;
  const read = readUplink(r, { uplink: flags }, (p) => (isAbsolute(p) ? p : resolve(cwd, p)));
  const problems = r.problems.map((p) => ({
    ...p,
    key: `--${p.key.replace(/^uplink\./, "").replaceAll("_", "-")}`,
  }));
  if (problems.length) return { ok: false, problems };
  const key = o.api_key_env !== undefined || o.api_key_file !== undefined
    ? { apiKeyEnv: read.apiKeyEnv, apiKeyFile: read.apiKeyFile }
    : {};
  return {
    ok: true,
    uplink: { ...uplink, ...(o.url !== undefined ? { url: read.url } : {}), ...key },
    agent: null,
  };
}
