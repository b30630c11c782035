/**
 * The worker protocol: newline-delimited JSON between the agent and one driver worker process
 * (`simco-agent __worker`). The full description with examples is docs/worker-protocol.md; in short:
 *
 * - The agent's first stdin line is the spawn's secret (`{"secret":"<hex>"}`, reply_auth.ts); the worker then
 *   writes `{"type":"hello","protocol":2,"pid":N,"auth":"<secret>"}` once it is ready for requests.
 * - The agent sends one request at a time on stdin (the worker answers pipelined ones in order), each with an
 *   increasing integer `id`:
 *   `init` (driver name, options, context, sandbox permissions), `poll`, `close`.
 * - The worker answers each on stdout with the same `id`: `ready` (init), `telemetry` (poll: `ts` and either
 *   `metrics`, one reading, or `readings: [{ts, metrics}, ...]` with an optional `cursor`, at most
 *   MAX_READINGS_PER_REPLY), `closed` (close), or `error` with a `code` (`driver_error`, `protocol`) and a
 *   one-line `message`.
 *   Every line the worker writes carries `auth`, the spawn's secret; a line without it was forged by the
 *   driver (which shares stdout) and is a protocol failure. The worker reports no memory figure: the agent
 *   measures (proc_stats.ts).
 * - `{"type":"fatal",...}` announces that the worker is about to exit (its driver's Web Worker died).
 * - Lines are capped (MAX_LINE_BYTES); anything else on stdout is a protocol violation and the worker is
 *   recycled. Stderr is free text, forwarded to the agent log line by line.
 * - The worker exits when its stdin closes: the agent is gone.
 *
 * This module holds the message types and the pure validation of what the worker sends; it does no I/O.
 */
import {
  checkJson,
  checkMetrics,
  checkTs,
  describe,
  isPlainObject,
  type Metrics,
  type MetricValue,
} from "../record/shape.ts";
import type { DriverStatus, ReadingBatch, TimedReading } from "../../drivers/types.ts";
import { checkAuth } from "./reply_auth.ts";

/**
 * Cap on the readings of one telemetry reply (drivers/types.ts `MAX_READINGS_PER_POLL`, the same number for
 * drivers); also what keeps a batch's line well under MAX_LINE_BYTES for ordinary metrics.
 */
export const MAX_READINGS_PER_REPLY = 1000;

/** Protocol version announced in `hello`. */
export const PROTOCOL_VERSION = 2;

/** Default cap on one protocol line, in bytes (both directions). */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Deno permissions granted to the driver's Web Worker; everything not listed is off. */
export interface SandboxPermissions {
  /** `host:port` entries the driver may connect to, or false. */
  readonly net: readonly string[] | false;
  /** Files the driver may read (its native library), or false. */
  readonly read: readonly string[] | false;
  /** Native libraries the driver may load through FFI, or false. */
  readonly ffi: readonly string[] | false;
  /** Folders the driver may write to (its machine's scratch folder), or false. Absent means false. */
  readonly write?: readonly string[] | false;
}

/** `init`: create the driver in a sandboxed Web Worker and call its `init`. */
export interface InitRequest {
  readonly id: number;
  readonly op: "init";
  /** Registry name (drivers/registry.ts), for messages. */
  readonly driver: string;
  /**
   * URL of the driver's module, exporting `createDriver()`: the registry entry's `module`, or a test module
   * (`MachineWorkerOptions.driverModule`, which configuration cannot reach).
   */
  readonly module: string;
  /** Validated driver options. */
  readonly options: Readonly<Record<string, unknown>>;
  /** What the driver's `init` gets as its context. */
  readonly ctx: {
    readonly machineId: string;
    readonly host: string | null;
    readonly port: number | null;
    readonly timeoutMs: number;
    /** The machine's scratch folder (DriverContext.workDir), or null. */
    readonly workDir: string | null;
    /** The machine's stored resume cursor, or null (see `DriverContext.cursor`). */
    readonly cursor?: MetricValue | null;
  };
  /** The Web Worker's permissions. */
  readonly permissions: SandboxPermissions;
}

/** A request the agent sends. */
export type Request = InitRequest | { readonly id: number; readonly op: "poll" | "close" };

/** Error codes a worker may put in an `error` reply. */
export type ReplyErrorCode = "driver_error" | "protocol";

/** A message the worker sends. */
export type Reply =
  | { readonly type: "hello"; readonly protocol: number; readonly pid: number }
  | { readonly type: "ready"; readonly id: number }
  | {
    readonly type: "telemetry";
    readonly id: number;
    /** When the driver's poll resolved (epoch ms, the worker's clock). */
    readonly ts: number;
    /** The one reading of a plain poll (absent when `readings` is given). */
    readonly metrics?: Metrics;
    /** Several readings with source timestamps (a `ReadingBatch` poll), instead of `metrics`. */
    readonly readings?: readonly TimedReading[];
    /** The batch's resume cursor, when it has one. */
    readonly cursor?: MetricValue;
    /** The batch's driver status fields, when it has them. */
    readonly status?: DriverStatus;
  }
  | { readonly type: "closed"; readonly id: number }
  | { readonly type: "error"; readonly id: number; readonly code: ReplyErrorCode; readonly message: string }
  | { readonly type: "fatal"; readonly message: string };

const MAX_MESSAGE = 500;

/**
 * True when what a driver's poll returned is a ReadingBatch: an object with an array `readings` and no keys
 * but `readings`, `cursor` and `status` (anything else is one plain metrics object).
 */
export function isReadingBatch(v: unknown): v is ReadingBatch {
  if (!isPlainObject(v) || !Array.isArray(v.readings)) return false;
  return Object.keys(v).every((k) => k === "readings" || k === "cursor" || k === "status");
}

/**
 * Checks the body of a telemetry reply or of what a driver's poll returned: `metrics` (one reading), or
 * `readings` (an array of at most MAX_READINGS_PER_REPLY `{ts, metrics}` with integer epoch-ms `ts`) with an
 * optional plain-JSON `cursor`. Exactly one of `metrics` and `readings`. Returns null when valid, else one line
 * naming the path (e.g. `readings[3].metrics.x: expected a finite number, got NaN`).
 */
export function checkTelemetry(
  v: { metrics?: unknown; readings?: unknown; cursor?: unknown; status?: unknown },
): string | null {
  if (v.readings === undefined) {
    if (v.cursor !== undefined || v.status !== undefined) return "cursor, status: only allowed with readings";
    return checkMetrics(v.metrics);
  }
  if (v.metrics !== undefined) return "expected metrics or readings, got both";
  if (!Array.isArray(v.readings)) return `readings: expected an array, got ${describe(v.readings)}`;
  if (v.readings.length > MAX_READINGS_PER_REPLY) {
    return `readings: expected at most ${MAX_READINGS_PER_REPLY} readings, got ${v.readings.length}`;
  }
  for (let i = 0; i < v.readings.length; i++) {
    const r: unknown = v.readings[i];
    const at = `readings[${i}]`;
    if (!isPlainObject(r)) return `${at}: expected {ts, metrics}, got ${describe(r)}`;
    const badTs = checkTs(r.ts);
    if (badTs) return `${at}.${badTs}`;
    if (!isPlainObject(r.metrics)) return `${at}.metrics: expected a JSON object, got ${describe(r.metrics)}`;
    const p = checkJson(r.metrics, `${at}.metrics`, 1);
    if (p) return p;
  }
  if (v.status !== undefined) {
    const st = v.status;
    if (!isPlainObject(st)) return `status: expected a flat JSON object, got ${describe(st)}`;
    const keys = Object.keys(st);
    if (keys.length > MAX_STATUS_KEYS) {
      return `status: expected at most ${MAX_STATUS_KEYS} keys, got ${keys.length}`;
    }
    for (const k of keys) {
      const x = st[k];
      if (typeof x === "object" && x !== null) {
        return `status.${k}: expected a string, number, boolean or null`;
      }
      const p = checkJson(x, `status.${k}`, 1);
      if (p) return p;
    }
  }
  return v.cursor === undefined ? null : checkJson(v.cursor, "cursor", 0);
}

const MAX_STATUS_KEYS = 32;

/** Shortens text to one line of at most `max` characters (for messages that end up in logs). */
export function oneLine(text: string, max = MAX_MESSAGE): string {
  const flat = text.replace(/\s*\r?\n\s*/g, " | ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * Parses and validates one line from a worker's stdout. Returns the reply, or a one-line description of what
 * is wrong with it (not JSON, no or a wrong `auth` secret, unknown type, missing fields, non-finite numbers).
 */
export function parseReply(
  line: string,
  secret: string,
): { ok: true; reply: Reply } | { ok: false; problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { ok: false, problem: `not JSON: ${JSON.stringify(oneLine(line, 80))}` };
  }
  if (!isPlainObject(parsed)) {
    return { ok: false, problem: `expected a JSON object, got ${describe(parsed)}` };
  }
  const forged = checkAuth(parsed, secret);
  if (forged) return { ok: false, problem: `${oneLine(String(parsed.type), 40)} ${forged}` };
  const { auth: _auth, ...v } = parsed;
  const bad = (what: string) => ({ ok: false as const, problem: `${String(v.type)} reply: ${what}` });
  switch (v.type) {
    case "hello":
      if (!Number.isSafeInteger(v.protocol)) return bad("expected an integer protocol");
      if (!Number.isSafeInteger(v.pid)) return bad("expected an integer pid");
      return { ok: true, reply: v as unknown as Reply };
    case "ready":
    case "closed":
      if (!isId(v.id)) return bad("expected a positive integer id");
      return { ok: true, reply: v as unknown as Reply };
    case "telemetry": {
      if (!isId(v.id)) return bad("expected a positive integer id");
      const problem = checkTs(v.ts) ?? checkTelemetry(v);
      if (problem) return bad(problem);
      return { ok: true, reply: v as unknown as Reply };
    }
    case "error":
      if (!isId(v.id)) return bad("expected a positive integer id");
      if (v.code !== "driver_error" && v.code !== "protocol") {
        return bad(`code: expected driver_error or protocol, got ${JSON.stringify(v.code)}`);
      }
      if (typeof v.message !== "string") return bad("expected a message string");
      return { ok: true, reply: { ...v, message: oneLine(v.message) } as unknown as Reply };
    case "fatal":
      if (typeof v.message !== "string") return bad("expected a message string");
      return { ok: true, reply: { type: "fatal", message: oneLine(v.message) } };
    default:
      return { ok: false, problem: `unknown reply type ${JSON.stringify(oneLine(String(v.type), 40))}` };
  }
}

/** How far in the past a reading's `ts` may lie: 7 days (a driver replaying a backlog after a restart). */
export const TS_MAX_AGE_MS = 7 * 86_400_000;

/** How far ahead of the agent's clock a reply's `ts` (the worker's own clock, same computer) may lie: 60 s. */
export const TS_MAX_SKEW_MS = 60_000;

/**
 * How far ahead a batch reading's source timestamp may lie: 15 min. The source is another computer (an
 * MTConnect agent) whose clock may be off by minutes; the driver warns about that (its `max_clock_skew`), and
 * the agent refuses only what is beyond any plausible skew.
 */
export const TS_MAX_SOURCE_SKEW_MS = 15 * 60_000;

/**
 * Refuses a reading time outside `[now - TS_MAX_AGE_MS, now + maxSkewMs]` of the agent's clock. Returns
 * null when sane, else one line saying what was expected and what was received.
 */
export function checkReadingTs(ts: number, now: number, maxSkewMs = TS_MAX_SKEW_MS): string | null {
  if (ts > now + maxSkewMs) {
    return `ts ${new Date(ts).toISOString()} is ${
      ((ts - now) / 1000).toFixed(0)
    } s ahead of the agent's clock (at most ${maxSkewMs / 1000} s of skew allowed)`;
  }
  if (ts < now - TS_MAX_AGE_MS) {
    return `ts ${new Date(Math.max(ts, -8.64e15)).toISOString()} is ${
      ((now - ts) / 86_400_000).toFixed(1)
    } days before the agent's clock (at most ${TS_MAX_AGE_MS / 86_400_000} days allowed)`;
  }
  return null;
}

/**
 * The window of {@link checkReadingTs} applied to a telemetry reply: its `ts` (60 s of skew) and the `ts` of
 * each of its readings (a batch's source timestamps, {@link TS_MAX_SOURCE_SKEW_MS}). Returns null when all are sane, else one line naming the first bad one.
 */
export function readingTimeProblem(
  ts: number,
  readings: readonly { readonly ts: number }[] | undefined,
  now: number,
): string | null {
  const own = checkReadingTs(ts, now);
  if (own) return own;
  for (let i = 0; i < (readings?.length ?? 0); i++) {
    const p = checkReadingTs(readings![i].ts, now, TS_MAX_SOURCE_SKEW_MS);
    if (p) return `readings[${i}].${p}`;
  }
  return null;
}
