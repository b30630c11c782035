/**
 * The driver contract. A driver knows one machine protocol and nothing else: it is created inside a sandboxed
 * worker (see src/sandbox/), initialised once with its validated options, then polled. The host that supervises
 * drivers knows nothing of any protocol; a driver knows nothing of buffering, upload or scheduling.
 */
import type { Metrics } from "../src/record/mod.ts";

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
}

/**
 * A driver instance; one per machine, inside that machine's worker. A driver's module exports
 * `createDriver(): Driver`; its {@link DriverDescription} lives apart, in a pure data file the registry
 * (drivers/registry.ts) imports, so that no driver code runs outside the machine's sandbox.
 */
export interface Driver {
  /** Connects or prepares. Throwing here fails the poll attempt, like a failed poll. */
  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void>;
  /** Reads the machine once. Returns metrics in the shared vocabulary; throws on failure. */
  poll(): Promise<Metrics>;
  /** Releases connections and handles. */
  close?(): Promise<void>;
}

/** What a driver module exports as `createDriver`: a factory, so each worker gets a fresh instance. */
export type DriverFactory = () => Driver;
