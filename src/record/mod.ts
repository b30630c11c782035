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
 *
 * The shape and the field checks live in shape.ts (no `node:` import, so the driver sandbox can use them);
 * this module adds the id, which needs SHA-256 from `node:crypto`, and re-exports shape.ts.
 */
import { createHash } from "node:crypto";
import {
  checkFields,
  checkJson,
  type IdentifiedRecord,
  InvalidRecordError,
  type Metrics,
  type TelemetryRecord,
} from "./shape.ts";

export {
  checkFields,
  checkId,
  checkJson,
  checkMachineId,
  checkMetrics,
  checkTs,
  ID_PATTERN,
  type IdentifiedRecord,
  InvalidRecordError,
  type Metrics,
  type MetricValue,
  type RecordOrigin,
  type SerializedRecord,
  type TelemetryRecord,
} from "./shape.ts";

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
    throw new InvalidRecordError(checkJson(value, path) ?? `${path}: expected a JSON value`);
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
  const problem = checkFields({ machine_id, ts, metrics });
  if (problem) throw new InvalidRecordError(problem);
  const record = { machine_id, ts, metrics };
  return { id: recordId(record), ...record };
}
