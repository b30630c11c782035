/**
 * The driver contract. A driver knows one machine protocol and nothing else: it is created inside a sandboxed
 * worker (see src/sandbox/), initialised once with its validated options, then polled. The host that supervises
 * drivers knows nothing of any protocol; a driver knows nothing of buffering, upload or scheduling.
 */
import type { Metrics, MetricValue } from "../src/record/mod.ts";

/** The schema of one driver option, used by the pure config parser to validate `[machines.options]`. */
export type OptionSpec =
  & { readonly description: string; readonly required?: boolean }
  & (
    | { readonly type: "string"; readonly default?: string; readonly pattern?: RegExp }
    | { readonly type: "integer"; readonly default?: number; readonly min?: number; readonly max?: number }
    | { readonly type: "number"; readonly default?: number; readonly min?: number; readonly max?: number }
    | { readonly type: "boolean"; readonly default?: boolean }
    | {
      readonly type: "duration";
      readonly default?: string;
      readonly minMs?: number;
      readonly maxMs?: number;
    }
    | { readonly type: "enum"; readonly default?: string; readonly values: readonly string[] }
    | { readonly type: "path"; readonly default?: string }
  );

/** What a driver says about itself, without any I/O. */
export interface DriverDescription {
  /** Registry name, used as `driver = "<name>"` in machines.toml. */
  readonly name: string;
  /** One line for `--help` and docs. */
  readonly summary: string;
  /**
   * Whether the driver talks to `host:port`. A network driver requires `host`; the sandbox grants `net`
   * for exactly that `host:port` and nothing else.
   */
  readonly network: boolean;
  /** Port used when the machine omits `port` (network drivers only). */
  readonly defaultPort?: number;
  /**
   * Name of the `path` option holding a native library the driver loads through FFI. The sandbox grants
   * `ffi` and `read` for exactly that file and nothing else.
   */
  readonly libraryOption?: string;
  /** Schema of `[machines.options]`. Unknown option keys are configuration errors. */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Example options, as they would appear in machines.toml (also checked by tests). */
  readonly sampleOptions: Readonly<Record<string, unknown>>;
}

/** Values a driver gets at `init`: where to connect and its validated options (defaults applied). */
export interface DriverContext {
  /** Machine id, for messages. */
  readonly machineId: string;
  /** Host for network drivers, else null. */
  readonly host: string | null;
  /** Port for network drivers (default applied), else null. */
  readonly port: number | null;
  /** Poll timeout in milliseconds; the sandbox kills the worker past it, the driver may use it for I/O. */
  readonly timeoutMs: number;
  /**
   * The machine's own scratch folder (`<data_dir>/machines/<machine id>/`, created before the worker starts),
   * the one place the driver may write: vendor library logs and the like. Null when the host gave none (tests).
   */
  readonly workDir: string | null;
  /**
   * The resume cursor of the last {@link ReadingBatch} the agent committed for this machine (the opaque JSON
   * value the driver returned with it), or null when none was ever stored. A driver that returns no cursor
   * always gets null.
   */
  readonly cursor?: MetricValue | null;
}

/** One reading with its source timestamp. */
export interface TimedReading {
  /** Epoch milliseconds UTC, an integer, as the source stamped it. */
  readonly ts: number;
  /** The metrics at that moment, in the shared vocabulary. */
  readonly metrics: Metrics;
}

/**
 * What a driver's `poll` may return instead of one plain metrics object: several readings, each stored as its
 * own record (id over machine_id, ts, metrics), and optionally a resume cursor (any JSON value) that the agent
 * stores in the same SQLite transaction as those records and hands back at the next `init` as `ctx.cursor`.
 * Recognised by its shape: an object whose only keys are `readings` (an array) and optionally `cursor` and
 * `status`.
 * At most {@link MAX_READINGS_PER_POLL} readings per poll.
 */
export interface ReadingBatch {
  /** The readings, oldest first (may be empty when only the cursor moved). */
  readonly readings: readonly TimedReading[];
  /** Opaque resume position, committed atomically with the readings; omitted: the stored cursor stays. */
  readonly cursor?: MetricValue;
  /**
   * What the driver wants operators to see in `status` for this machine (`driver_status`): a flat object of
   * strings, finite numbers, booleans or null, at most 32 keys (e.g. a clock skew, a count of gaps).
   */
  readonly status?: DriverStatus;
}

/** A driver's own status fields, shown as `driver_status` in `simco-agent status`. */
export type DriverStatus = Readonly<Record<string, string | number | boolean | null>>;

/** What `poll` resolves to: one plain reading (stamped by the worker) or a {@link ReadingBatch}. */
export type PollResult = Metrics | ReadingBatch;

/**
 * Cap on the readings of one poll: the sandbox refuses a reply with more, as a protocol failure (its own copy,
 * `MAX_READINGS_PER_REPLY` in src/sandbox/protocol.ts, is checked equal by a test: the worker graph loads no
 * driver file).
 */
export const MAX_READINGS_PER_POLL = 1000;

/**
 * A driver instance; one per machine, inside that machine's worker. A driver's module exports
 * `createDriver(): Driver`; its {@link DriverDescription} lives apart, in a pure data file the registry
 * (drivers/registry.ts) imports, so that no driver code runs outside the machine's sandbox.
 */
export interface Driver {
  /** Connects or prepares. Throwing here fails the poll attempt, like a failed poll. */
  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void>;
  /**
   * Reads the machine once. Returns metrics in the shared vocabulary, or a {@link ReadingBatch}; throws on
   * failure.
   */
  poll(): Promise<PollResult>;
  /** Releases connections and handles. */
  close?(): Promise<void>;
}

/** What a driver module exports as `createDriver`: a factory, so each worker gets a fresh instance. */
export type DriverFactory = () => Driver;
