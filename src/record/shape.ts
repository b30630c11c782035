/**
 * The record's shape and its one validator, declared once for every part that holds a record: the driver
 * sandbox (which checks what a driver returns), the agent, the buffer, the wire and the reference ingest.
 *
 * No I/O and no `node:` import: the worker graph (src/sandbox/worker_main.ts, driver_host.ts) imports this
 * module, and loading Node compatibility costs memory in every worker (docs/worker-protocol.md). The id
 * (SHA-256, `node:crypto`) is computed in mod.ts, which re-exports everything here.
 */

/** A JSON value allowed inside `metrics`. */
export type MetricValue =
  | string
  | number
  | boolean
  | null
  | readonly MetricValue[]
  | { readonly [key: string]: MetricValue };

/** The metrics object of one reading. */
export type Metrics = { readonly [key: string]: MetricValue };

/** Which machine a reading is from, and when: the fields every form of a record has. */
export interface RecordOrigin {
  /** Machine id from the configuration. */
  readonly machine_id: string;
  /** Epoch milliseconds UTC, an integer >= 0. */
  readonly ts: number;
}

/** One reading of one machine, without its id. */
export interface TelemetryRecord extends RecordOrigin {
  /** The metrics, in the shared vocabulary (see drivers/README.md). */
  readonly metrics: Metrics;
}

/** A record together with its content id (what the buffer stores and the wire carries). */
export interface IdentifiedRecord extends TelemetryRecord {
  /** Lowercase hex SHA-256 of the canonical JSON of the record. */
  readonly id: string;
}

/**
 * A record whose metrics are the JSON text the buffer stores (exactly `JSON.stringify(metrics)`): the uplink
 * splices that text into a request body without parsing it.
 */
export interface SerializedRecord extends RecordOrigin {
  /** Content id. */
  readonly id: string;
  /** The metrics object as JSON text. */
  readonly metricsJson: string;
}

/** Lowercase hex SHA-256, the id format. */
export const ID_PATTERN = /^[0-9a-f]{64}$/;

/** Thrown when a record or its metrics are not valid JSON telemetry. */
export class InvalidRecordError extends Error {
  override name = "InvalidRecordError";
}

/** How deep metrics may nest. */
export const MAX_METRICS_DEPTH = 32;

/** `id: ...` problem, or null when `id` is 64 lowercase hex digits. */
export function checkId(id: unknown): string | null {
  return typeof id === "string" && ID_PATTERN.test(id)
    ? null
    : `id: expected 64 lowercase hex digits, got ${show(id)}`;
}

/** `machine_id: ...` problem, or null when it is a non-empty string. */
export function checkMachineId(machineId: unknown): string | null {
  return typeof machineId === "string" && machineId.length > 0
    ? null
    : `machine_id: expected a non-empty string, got ${show(machineId)}`;
}

/** `ts: ...` problem, or null when it is integer epoch milliseconds >= 0. */
export function checkTs(ts: unknown): string | null {
  return Number.isSafeInteger(ts) && (ts as number) >= 0
    ? null
    : `ts: expected integer epoch milliseconds >= 0, got ${show(ts)}`;
}

/**
 * Checks that `value` is plain JSON telemetry: an object whose values are strings, finite numbers, booleans,
 * null, arrays or plain objects of the same, at most {@link MAX_METRICS_DEPTH} levels deep. Returns null when
 * valid, else one line naming the path and what was found (`metrics.spindle_speed: expected a finite number,
 * got NaN`).
 */
export function checkMetrics(value: unknown): string | null {
  if (!isPlainObject(value)) return `metrics: expected a JSON object, got ${describe(value)}`;
  return checkJson(value, "metrics");
}

/** The first value below `value` that JSON cannot carry, described with its path (from `path`), or null. */
export function checkJson(value: unknown, path: string, depth = 0): string | null {
  if (depth > MAX_METRICS_DEPTH) return `${path}: nested deeper than ${MAX_METRICS_DEPTH} levels`;
  switch (typeof value) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(value) ? null : `${path}: expected a finite number, got ${String(value)}`;
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const p = checkJson(value[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return null;
      }
      if (!isPlainObject(value)) return `${path}: expected plain JSON, got ${describe(value)}`;
      for (const [k, x] of Object.entries(value)) {
        const p = checkJson(x, `${path}.${k}`, depth + 1);
        if (p) return p;
      }
      return null;
    }
    default:
      return `${path}: expected a JSON value, got ${typeof value}`;
  }
}

/**
 * The first problem of a record's fields, cheap checks only: machine_id, ts, and that metrics is an object
 * (not null, not an array). What is inside metrics is checked by {@link checkMetrics}, or by computing the
 * id (canonical JSON refuses what JSON cannot carry, with the same messages).
 */
export function checkFields(r: { machine_id: unknown; ts: unknown; metrics: unknown }): string | null {
  const m = r.metrics;
  return checkMachineId(r.machine_id) ?? checkTs(r.ts) ??
    (typeof m === "object" && m !== null && !Array.isArray(m)
      ? null
      : `metrics: expected a JSON object, got ${describe(m)}`);
}

/** True for `{}`-style objects (prototype Object or null), not arrays or class instances. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** What a value is, for messages: `null`, `an array`, `an instance of Date`, or its `typeof`. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return `an instance of ${(v as object).constructor?.name ?? "an unknown class"}`;
  return typeof v;
}

/** A received value for a message, at most 80 characters. */
function show(v: unknown): string {
  const s = typeof v === "number" ? String(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? s.slice(0, 79) + "…" : s;
}
