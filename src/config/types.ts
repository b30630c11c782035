/** The typed, frozen configuration produced by the pure parser in parse.ts. All durations are milliseconds. */

/** `[agent]` */
export interface AgentSection {
  /** Agent id, `[A-Za-z0-9._-]{1,64}`. */
  readonly id: string;
  /** Absolute data directory (buffer.db, logs, state), resolved against the config file's folder. */
  readonly dataDir: string;
  /** Log level for the console and the log file. */
  readonly logLevel: "debug" | "info" | "warning" | "error";
  /**
   * OS confinement of driver worker processes (src/sandbox/confine): `strict` refuses a worker that cannot be
   * fully confined, `best_effort` (default) applies what the platform offers and logs what is missing.
   */
  readonly confinement: "strict" | "best_effort" | "off";
  /** User a worker runs as when the agent runs as root (Linux), default `nobody`. */
  readonly workerUser: string;
  /** Log line format: one human line, or one JSON object per line. */
  readonly logFormat: "text" | "json";
  /** Address of the /health and /metrics endpoint, or null (off, the default). */
  readonly metricsListen: { readonly hostname: string; readonly port: number } | null;
  /** Interval of the summary log line. */
  readonly summaryIntervalMs: number;
}

/** `[uplink]` */
export interface UplinkSection {
  /** Ingest URL (http or https), or null when absent (run and drain then refuse to start). */
  readonly url: string | null;
  /** Name of the environment variable holding the api key. */
  readonly apiKeyEnv: string | null;
  /** Absolute path of a file holding the api key. */
  readonly apiKeyFile: string | null;
  /** Records per request, 1..10000. */
  readonly batchSize: number;
  /** Per-request timeout. */
  readonly timeoutMs: number;
  /** Gzip request bodies. */
  readonly gzip: boolean;
  /** Absolute path of an extra CA certificate (PEM), or null. */
  readonly caFile: string | null;
  /** Upper bound of the retry backoff. */
  readonly maxBackoffMs: number;
}

/** `[buffer]` */
export interface BufferSection {
  /** Cap on queued records. */
  readonly maxRecords: number;
  /** What to do at the cap. */
  readonly whenFull: "drop_oldest" | "stop_polling";
}

/** One `[[machines]]` entry with `[defaults]` applied. */
export interface MachineConfig {
  /** Unique machine id, `[A-Za-z0-9._-]{1,64}`. */
  readonly id: string;
  /** Registered driver name. */
  readonly driver: string;
  /** Host for network drivers, else null. */
  readonly host: string | null;
  /** Port for network drivers (driver default applied), else null. */
  readonly port: number | null;
  /** Poll interval. */
  readonly intervalMs: number;
  /** Per-poll timeout; past it the worker is killed. */
  readonly timeoutMs: number;
  /** Upper bound of the poll backoff. */
  readonly maxBackoffMs: number;
  /** Consecutive failures that open the circuit breaker. */
  readonly breakerThreshold: number;
  /** How long an open breaker waits before one probe. */
  readonly breakerCooldownMs: number;
  /** Consecutive failed polls after which the machine is recorded UNAVAILABLE (also when its breaker opens). */
  readonly availabilityAfter: number;
  /** Resident memory (MiB) past which the worker is recycled between polls. */
  readonly maxMemoryMb: number;
  /**
   * CPU budget in percent of one core, averaged over 10 s, measured by the agent; past it the worker is
   * recycled (cause `cpu`).
   */
  readonly maxCpuPercent: number;
  /** Driver options, validated against the driver's schema, defaults applied; paths made absolute. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** The whole configuration. */
export interface Config {
  /** Absolute path of the configuration file. */
  readonly file: string;
  /** `[agent]` */
  readonly agent: AgentSection;
  /** `[uplink]` */
  readonly uplink: UplinkSection;
  /** `[buffer]` */
  readonly buffer: BufferSection;
  /** `[[machines]]`, in file order. */
  readonly machines: readonly MachineConfig[];
}

/** One configuration problem: where it is and what was expected. */
export interface ConfigProblem {
  /** The file as the user named it. */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** Key path such as `machines[2].port`, or empty for file-level problems. */
  readonly key: string;
  /** What was expected and what was found. */
  readonly message: string;
}

/** Formats a problem as one line: `machines.toml:14: machines[2].port: expected ..., got ...`. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ""}: ${p.key ? p.key + ": " : ""}${p.message}`;
}
