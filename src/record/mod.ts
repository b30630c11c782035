/**
 * Telemetry records and their deterministic ids.
 *
 * A record is `{ machine_id, ts, metrics }`. Its id is the lowercase hex SHA-256 of the UTF-8 bytes of the
 * RFC 8785 (JCS) canonical JSON of exactly those three fields. The cloud deduplicates on this id, so the same
 * reading sent twice (a lost ack, an export uploaded twice) is stored once.
 *
 * Canonical form: object keys sorted by UTF-16 code units, no insignificant whitespace, numbers in ECMAScript
 * shortest round-trip form (what `JSON.stringify` prints for a finite number; -0 becomes 0), strings escaped
 * as `JSON.stringify` does (which matches RFC 8785). Non-finite numbers are invalid and rejected where the
 * record is made.
 */
import { createHash } from "node:crypto";

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

/** One reading of one machine, without its id. */
export interface TelemetryRecord {
  /** Machine id from the configuration. */
  readonly machine_id: string;
  /** Epoch milliseconds UTC, an integer. */
  readonly ts: number;
  /** The metrics, in the shared vocabulary (see drivers/README.md). */
  readonly metrics: Metrics;
}

/** A record together with its content id. */
export interface IdentifiedRecord extends TelemetryRecord {
  /** Lowercase hex SHA-256 of the canonical JSON of the record. */
  readonly id: string;
}

/** Thrown when a record or its metrics are not valid JSON telemetry. */
export class InvalidRecordError extends Error {
  override name = "InvalidRecordError";
}

/**
 * Serialises a JSON value in RFC 8785 canonical form. Throws {@link InvalidRecordError} naming the path of a
 * non-finite number or a value that JSON cannot carry (undefined, function, bigint, symbol).
 */
export function canonicalJson(value: unknown, path = "$"): string {
  try {
    return canonical(value);
  } catch (e) {
    if (e !== INVALID) throw e;
    // The fast path keeps no paths; walk again, slowly, to name the offending one.
    throw new InvalidRecordError(explainInvalid(value, path) ?? `${path}: expected a JSON value`);
  }
}

const INVALID = Symbol("invalid JSON value");
const INDEX_KEY = Symbol("integer-like object key");

/**
 * The hot path: copy the value with every object's keys inserted in sorted order, then let the native
 * `JSON.stringify` print it (its number and string forms are exactly RFC 8785's). That is about twice as fast as
 * concatenating by hand. JavaScript objects iterate integer-like keys ("7", "10") first whatever their insertion
 * order, so a value with such keys takes the hand-written path instead.
 */
function canonical(value: unknown): string {
  try {
    return JSON.stringify(sortedCopy(value));
  } catch (e) {
    if (e !== INDEX_KEY) throw e;
    return canonicalByHand(value);
  }
}

function sortedCopy(v: unknown): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (!Number.isFinite(v)) throw INVALID;
      return v;
    case "object": {
      if (v === null) return v;
      if (Array.isArray(v)) return v.map(sortedCopy);
      const keys = Object.keys(v).sort();
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const c = k.charCodeAt(0);
        if (c >= 0x30 && c <= 0x39) throw INDEX_KEY;
        out[k] = sortedCopy((v as Record<string, unknown>)[k]);
      }
      return out;
    }
    default:
      throw INVALID;
  }
}

/** Canonical JSON by concatenation, for values with integer-like keys. */
function canonicalByHand(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw INVALID;
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return "[" + value.map(canonicalByHand).join(",") + "]";
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 requires.
      return "{" +
        Object.keys(obj).sort().map((k) => JSON.stringify(k) + ":" + canonicalByHand(obj[k])).join(",") +
        "}";
    }
    default:
      throw INVALID;
  }
}

/** Finds the first invalid value below `value` and describes it with its path, or returns null. */
function explainInvalid(value: unknown, path: string): string | null {
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
          const bad = explainInvalid(value[i], `${path}[${i}]`);
          if (bad) return bad;
        }
        return null;
      }
      for (const k of Object.keys(value).sort()) {
        const bad = explainInvalid((value as Record<string, unknown>)[k], `${path}.${k}`);
        if (bad) return bad;
      }
      return null;
    }
    default:
      return `${path}: expected a JSON value, got ${typeof value}`;
  }
}

/** Computes the record id: lowercase hex SHA-256 of the canonical JSON of `{machine_id, ts, metrics}`. */
export function recordId(record: TelemetryRecord): string {
  const canonical = canonicalJson({ machine_id: record.machine_id, ts: record.ts, metrics: record.metrics });
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

/**
 * Validates a reading and returns it with its id. Throws {@link InvalidRecordError} when `machine_id` is not a
 * non-empty string, `ts` is not a non-negative integer, or `metrics` is not a plain object of finite JSON.
 */
export function makeRecord(machine_id: string, ts: number, metrics: Metrics): IdentifiedRecord {
  if (typeof machine_id !== "string" || machine_id.length === 0) {
    throw new InvalidRecordError(
      `machine_id: expected a non-empty string, got ${JSON.stringify(machine_id)}`,
    );
  }
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new InvalidRecordError(`ts: expected integer epoch milliseconds >= 0, got ${String(ts)}`);
  }
  if (typeof metrics !== "object" || metrics === null || Array.isArray(metrics)) {
    throw new InvalidRecordError(
      `metrics: expected a JSON object, got ${Array.isArray(metrics) ? "an array" : typeof metrics}`,
    );
  }
  const record = { machine_id, ts, metrics };
  return { id: recordId(record), ...record };
}
