/**
 * The pure configuration parser: TOML text in, a typed and deeply frozen {@link Config} or the complete list of
 * problems out. No I/O happens here (paths are resolved as strings against the config file's folder), so it is
 * tested directly and runs before anything touches the disk or the network.
 *
 * Rules: unknown keys are errors with a did-you-mean hint; every error names the key path, the line where it can
 * be found, what was expected and what was found; all problems are reported at once.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { dirname, isAbsolute, resolve } from "node:path";
import { describeDriver, driverNames } from "../../drivers/registry.ts";
import type { OptionSpec } from "../../drivers/types.ts";
import { didYouMean } from "../util/suggest.ts";
import { locateKeys } from "./key_lines.ts";
import { describeValue, isTable, Reader, type Table } from "./reader.ts";
import type { Config, ConfigProblem, MachineConfig, UplinkSection } from "./types.ts";

/** Result of {@link parseConfig}. */
export type ParseResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

const ID = /^[A-Za-z0-9._-]{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9A-Fa-f:.]+\]?$/;

const SECTIONS = ["agent", "uplink", "buffer", "defaults", "machines"];
const AGENT_KEYS = [
  "id",
  "data_dir",
  "log_level",
  "confinement",
  "worker_user",
  "log_format",
  "metrics_listen",
  "summary_interval",
];
const LISTEN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const UPLINK_KEYS = [
  "url",
  "api_key_env",
  "api_key_file",
  "batch_size",
  "timeout",
  "gzip",
  "ca_file",
  "max_backoff",
];
const BUFFER_KEYS = ["max_records", "when_full"];
const DEFAULT_KEYS = [
  "interval",
  "timeout",
  "max_backoff",
  "breaker_threshold",
  "breaker_cooldown",
  "availability_after",
  "max_memory_mb",
  "max_cpu_percent",
];
const MACHINE_KEYS = ["id", "driver", "host", "port", "options", ...DEFAULT_KEYS];

/** Built-in defaults for `[defaults]`. */
export const DEFAULTS = Object.freeze({
  interval: "1s",
  timeout: "5s",
  max_backoff: "5m",
  breaker_threshold: 5,
  breaker_cooldown: "15m",
  availability_after: 3,
  max_memory_mb: 256,
  max_cpu_percent: 50,
});

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/**
 * Parses and validates a machines.toml text.
 * @param text the file's text (already decoded from UTF-8)
 * @param file the file's name as the user gave it, for messages
 * @param absPath the file's absolute path; relative paths in the file are resolved against its folder
 */
export function parseConfig(text: string, file: string, absPath: string): ParseResult {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      return {
        ok: false,
        problems: [{
          file,
          line: e.line,
          key: "",
          message: `TOML syntax error at column ${e.column}: ${what}`,
        }],
      };
    }
    throw e;
  }
  const r = new Reader(file, locateKeys(text));
  const baseDir = dirname(absPath);
  const pathOf = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  r.unknownKeys(doc, "", SECTIONS);

  const agentT = r.table(doc, "agent", "agent");
  if (doc.agent === undefined) {
    r.problem("agent", "required table [agent] is missing (expected at least agent.id)");
  }
  r.unknownKeys(agentT, "agent", AGENT_KEYS);
  const agentId = doc.agent === undefined ? null : r.string(agentT, "id", "agent.id", {
    required: true,
    pattern: ID,
    what: "1-64 characters of A-Z a-z 0-9 . _ -",
  });
  const dataDir = r.string(agentT, "data_dir", "agent.data_dir", { what: "a folder path" }) ?? "./simco-data";
  const logLevel = r.enumeration(agentT, "log_level", "agent.log_level", [
    "debug",
    "info",
    "warning",
    "error",
  ], "info");
  const confinement = r.enumeration(agentT, "confinement", "agent.confinement", [
    "strict",
    "best_effort",
    "off",
  ], "best_effort");
  const workerUser = r.string(agentT, "worker_user", "agent.worker_user", {
    pattern: /^[A-Za-z0-9._-]{1,32}$/,
    what: "a user name or numeric uid",
  }) ?? "nobody";
  const logFormat = r.enumeration(agentT, "log_format", "agent.log_format", ["text", "json"], "text");
  const summaryIntervalMs = r.duration(
    agentT,
    "summary_interval",
    "agent.summary_interval",
    1000,
    86_400_000,
    "5m",
  );
  const listenText = r.string(agentT, "metrics_listen", "agent.metrics_listen", {
    what: 'a "host:port" address such as "127.0.0.1:9464"',
  });
  let metricsListen: { hostname: string; port: number } | null = null;
  if (listenText !== null) {
    const m = LISTEN.exec(listenText);
    if (!m || Number(m[2]) > 65535) {
      r.problem(
        "agent.metrics_listen",
        `expected a "host:port" address such as "127.0.0.1:9464" (port 0..65535), got "${listenText}"`,
      );
    } else {
      metricsListen = { hostname: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
    }
  }

  const uplink = readUplink(r, doc, pathOf);

  const bufT = r.table(doc, "buffer", "buffer");
  r.unknownKeys(bufT, "buffer", BUFFER_KEYS);
  const buffer = {
    maxRecords: r.integer(bufT, "max_records", "buffer.max_records", 1, 1_000_000_000, 5_000_000)!,
    whenFull: r.enumeration(
      bufT,
      "when_full",
      "buffer.when_full",
      ["drop_oldest", "stop_polling"] as const,
      "drop_oldest",
    ),
  };

  const defT = r.table(doc, "defaults", "defaults");
  r.unknownKeys(defT, "defaults", DEFAULT_KEYS);
  const defaults = readTimings(r, defT, "defaults", null);

  const machines: MachineConfig[] = [];
  const rawMachines = doc.machines;
  if (rawMachines === undefined) {
    r.problem("machines", "expected at least one [[machines]] table, found none");
  } else if (!Array.isArray(rawMachines) || !rawMachines.every(isTable)) {
    r.problem("machines", `expected an array of tables ([[machines]]), got ${describeValue(rawMachines)}`);
  } else {
    if (rawMachines.length === 0) {
      r.problem("machines", "expected at least one [[machines]] table, found none");
    }
    const seen = new Map<string, number>();
    rawMachines.forEach((m, i) => {
      const machine = readMachine(r, m as Table, `machines[${i}]`, defaults, pathOf);
      const id = (m as Table).id;
      if (typeof id === "string") {
        const first = seen.get(id);
        if (first !== undefined) {
          r.problem(`machines[${i}].id`, `duplicate machine id "${id}" (already used by machines[${first}])`);
        } else {
          seen.set(id, i);
        }
      }
      if (machine) machines.push(machine);
    });
  }

  if (r.problems.length > 0 || agentId === null) {
    return {
      ok: false,
      problems: r.problems.toSorted((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)),
    };
  }
  const config: Config = {
    file: absPath,
    agent: {
      id: agentId,
      dataDir: pathOf(dataDir),
      logLevel,
      confinement,
      workerUser,
      logFormat,
      metricsListen,
      summaryIntervalMs,
    },
    uplink,
    buffer,
    machines,
  };
  return { ok: true, config: deepFreeze(config) };
}

/** Reads and checks `[uplink]` of a parsed document (also used by `upload`'s uplink-only configs). */
export function readUplink(r: Reader, doc: Table, pathOf: (p: string) => string): UplinkSection {
  const upT = r.table(doc, "uplink", "uplink");
  if ("api_key" in upT) {
    r.problem(
      "uplink.api_key",
      "an api key must not be written in the config file (expected uplink.api_key_env naming an environment variable, or uplink.api_key_file naming a file)",
    );
  }
  r.unknownKeys(upT, "uplink", [...UPLINK_KEYS, "api_key"]);
  let url = r.string(upT, "url", "uplink.url", { what: "an http:// or https:// URL" });
  if (url !== null) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch { /* reported below */ }
    if (!parsed || !["http:", "https:"].includes(parsed.protocol) || !parsed.hostname) {
      r.problem("uplink.url", `expected an http:// or https:// URL, got ${describeValue(url)}`);
      url = null;
    } else if (parsed.username || parsed.password) {
      r.problem(
        "uplink.url",
        "expected a URL without user:password (credentials belong in uplink.api_key_env)",
      );
      url = null;
    }
  }
  const apiKeyEnv = r.string(upT, "api_key_env", "uplink.api_key_env", {
    pattern: ENV_NAME,
    what: "an environment variable name",
  });
  const apiKeyFile = r.string(upT, "api_key_file", "uplink.api_key_file", { what: "a file path" });
  if (apiKeyEnv && apiKeyFile) {
    r.problem("uplink.api_key_file", "expected either api_key_env or api_key_file, not both");
  }
  const caFile = r.string(upT, "ca_file", "uplink.ca_file", { what: "a PEM file path" });
  return {
    url,
    apiKeyEnv,
    apiKeyFile: apiKeyFile ? pathOf(apiKeyFile) : null,
    batchSize: r.integer(upT, "batch_size", "uplink.batch_size", 1, 10_000, 100)!,
    timeoutMs: r.duration(upT, "timeout", "uplink.timeout", 100, 600_000, "10s"),
    gzip: r.boolean(upT, "gzip", "uplink.gzip", true),
    caFile: caFile ? pathOf(caFile) : null,
    maxBackoffMs: r.duration(upT, "max_backoff", "uplink.max_backoff", 1000, 86_400_000, "5m"),
  };
}

type Timings = Pick<
  MachineConfig,
  | "intervalMs"
  | "timeoutMs"
  | "maxBackoffMs"
  | "breakerThreshold"
  | "breakerCooldownMs"
  | "availabilityAfter"
  | "maxMemoryMb"
  | "maxCpuPercent"
>;

function readTimings(r: Reader, t: Table, path: string, base: Timings | null): Timings {
  return {
    intervalMs: r.duration(
      t,
      "interval",
      `${path}.interval`,
      10,
      86_400_000,
      base?.intervalMs ?? DEFAULTS.interval,
    ),
    timeoutMs: r.duration(t, "timeout", `${path}.timeout`, 10, 600_000, base?.timeoutMs ?? DEFAULTS.timeout),
    maxBackoffMs: r.duration(
      t,
      "max_backoff",
      `${path}.max_backoff`,
      1000,
      86_400_000,
      base?.maxBackoffMs ?? DEFAULTS.max_backoff,
    ),
    breakerThreshold: r.integer(
      t,
      "breaker_threshold",
      `${path}.breaker_threshold`,
      1,
      1000,
      base?.breakerThreshold ?? DEFAULTS.breaker_threshold,
    )!,
    breakerCooldownMs: r.duration(
      t,
      "breaker_cooldown",
      `${path}.breaker_cooldown`,
      100,
      86_400_000,
      base?.breakerCooldownMs ?? DEFAULTS.breaker_cooldown,
    ),
    availabilityAfter: r.integer(
      t,
      "availability_after",
      `${path}.availability_after`,
      1,
      1000,
      base?.availabilityAfter ?? DEFAULTS.availability_after,
    )!,
    maxMemoryMb: r.integer(
      t,
      "max_memory_mb",
      `${path}.max_memory_mb`,
      96,
      65_536,
      base?.maxMemoryMb ?? DEFAULTS.max_memory_mb,
    )!,
    maxCpuPercent: r.integer(
      t,
      "max_cpu_percent",
      `${path}.max_cpu_percent`,
      1,
      6400,
      base?.maxCpuPercent ?? DEFAULTS.max_cpu_percent,
    )!,
  };
}

function readMachine(
  r: Reader,
  t: Table,
  path: string,
  defaults: Timings,
  pathOf: (p: string) => string,
): MachineConfig | null {
  r.unknownKeys(t, path, MACHINE_KEYS);
  const id = r.string(t, "id", `${path}.id`, {
    required: true,
    pattern: ID,
    what: "1-64 characters of A-Z a-z 0-9 . _ -",
  });
  const driverName = r.string(t, "driver", `${path}.driver`, {
    required: true,
    what: `one of ${driverNames().join(", ")}`,
  });
  const timings = readTimings(r, t, path, defaults);
  const desc = driverName === null ? undefined : describeDriver(driverName);
  if (driverName !== null && !desc) {
    r.problem(
      `${path}.driver`,
      `unknown driver "${driverName}"${didYouMean(driverName, driverNames())} (expected one of: ${
        driverNames().join(", ")
      })`,
    );
  }
  let host: string | null = null;
  let port: number | null = null;
  if (desc?.network) {
    host = r.string(t, "host", `${path}.host`, {
      required: true,
      pattern: HOST,
      what: "a host name or IP address (no scheme, no port)",
    });
    port = r.integer(t, "port", `${path}.port`, 1, 65_535, desc.defaultPort ?? null);
    if (port === null && t.port === undefined) {
      r.problem(`${path}.port`, "required key is missing (expected an integer 1..65535)");
    }
  } else if (desc) {
    for (const k of ["host", "port"]) {
      if (k in t) {
        r.problem(`${path}.${k}`, `driver "${desc.name}" does not connect to a host (expected no ${k})`);
      }
    }
  }
  const optT = r.table(t, "options", `${path}.options`);
  const options: Record<string, unknown> = {};
  if (desc) {
    r.unknownKeys(optT, `${path}.options`, Object.keys(desc.options));
    for (const [key, spec] of Object.entries(desc.options)) {
      const v = readOption(r, optT, key, `${path}.options.${key}`, spec, pathOf);
      if (v !== undefined) options[key] = v;
    }
  }
  if (id === null || !desc) return null;
  return { id, driver: desc.name, host, port, ...timings, options };
}

function readOption(
  r: Reader,
  t: Table,
  key: string,
  path: string,
  spec: OptionSpec,
  pathOf: (p: string) => string,
): unknown {
  if (t[key] === undefined && spec.default === undefined) {
    if (spec.required) r.problem(path, `required option is missing (${spec.description})`);
    return undefined;
  }
  switch (spec.type) {
    case "string":
      return t[key] === undefined
        ? spec.default
        : r.string(t, key, path, { pattern: spec.pattern, what: spec.description });
    case "path": {
      if (t[key] === undefined) return spec.default;
      const p = r.string(t, key, path, { what: "a file path" });
      return p === null ? null : pathOf(p);
    }
    case "integer":
      return r.integer(
        t,
        key,
        path,
        spec.min ?? Number.MIN_SAFE_INTEGER,
        spec.max ?? Number.MAX_SAFE_INTEGER,
        spec.default ?? null,
      );
    case "number":
      return r.number(
        t,
        key,
        path,
        spec.min ?? -Number.MAX_VALUE,
        spec.max ?? Number.MAX_VALUE,
        spec.default ?? null,
      );
    case "boolean":
      return r.boolean(t, key, path, spec.default ?? false);
    case "duration":
      return r.duration(t, key, path, spec.minMs ?? 0, spec.maxMs ?? 86_400_000, spec.default ?? "0ms");
    case "enum":
      return r.enumeration(t, key, path, spec.values, spec.default ?? spec.values[0]);
  }
}
