/**
 * The worker protocol: newline-delimited JSON between the agent and one driver worker process
 * (`simco-agent __worker`). The full description with examples is docs/worker-protocol.md; in short:
 *
 * - The worker writes `{"type":"hello","protocol":1,"pid":N,"rss":B}` once it is ready for requests.
 * - The agent sends one request at a time on stdin (the worker answers pipelined ones in order), each with an
 *   increasing integer `id`:
 *   `init` (driver name, options, context, sandbox permissions), `poll`, `close`.
 * - The worker answers each on stdout with the same `id`: `ready` (init), `telemetry` (poll: `ts`, `metrics`),
 *   `closed` (close), or `error` with a `code` (`driver_error`, `protocol`) and a one-line `message`.
 *   Every reply carries `rss`, the worker process's resident memory in bytes.
 * - `{"type":"fatal",...}` announces that the worker is about to exit (its driver's Web Worker died).
 * - Lines are capped (MAX_LINE_BYTES); anything else on stdout is a protocol violation and the worker is
 *   recycled. Stderr is free text, forwarded to the agent log line by line.
 * - The worker exits when its stdin closes: the agent is gone.
 *
 * This module holds the message types and the pure validation of what the worker sends; it does no I/O.
 */
import type { Metrics } from "../record/mod.ts";

/** Protocol version announced in `hello`. */
export const PROTOCOL_VERSION = 1;

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
  | { readonly type: "hello"; readonly protocol: number; readonly pid: number; readonly rss: number }
  | { readonly type: "ready"; readonly id: number; readonly rss: number }
  | {
    readonly type: "telemetry";
    readonly id: number;
    readonly ts: number;
    readonly metrics: Metrics;
    readonly rss: number;
  }
  | { readonly type: "closed"; readonly id: number; readonly rss: number }
  | {
    readonly type: "error";
    readonly id: number;
    readonly code: ReplyErrorCode;
    readonly message: string;
    readonly rss: number;
  }
  | { readonly type: "fatal"; readonly message: string };

const MAX_DEPTH = 32;
const MAX_MESSAGE = 500;

/**
 * Checks that `value` is plain JSON telemetry: an object whose values are strings, finite numbers, booleans,
 * null, arrays or plain objects of the same, at most 32 levels deep. Returns null when valid, else one line
 * naming the path and what was found (e.g. `metrics.spindle_speed: expected a finite number, got NaN`).
 */
export function checkMetrics(value: unknown): string | null {
  if (!isPlainObject(value)) return `metrics: expected a JSON object, got ${describe(value)}`;
  return checkValue(value, "metrics", 0);
}

function checkValue(v: unknown, path: string, depth: number): string | null {
  if (depth > MAX_DEPTH) return `${path}: nested deeper than ${MAX_DEPTH} levels`;
  switch (typeof v) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(v) ? null : `${path}: expected a finite number, got ${String(v)}`;
    case "object": {
      if (v === null) return null;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = checkValue(v[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return null;
      }
      if (!isPlainObject(v)) return `${path}: expected plain JSON, got ${describe(v)}`;
      for (const [k, x] of Object.entries(v)) {
        const p = checkValue(x, `${path}.${k}`, depth + 1);
        if (p) return p;
      }
      return null;
    }
    default:
      return `${path}: expected a JSON value, got ${typeof v}`;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return `an instance of ${(v as object).constructor?.name ?? "an unknown class"}`;
  return typeof v;
}

/** Shortens text to one line of at most `max` characters (for messages that end up in logs). */
export function oneLine(text: string, max = MAX_MESSAGE): string {
  const flat = text.replace(/\s*\r?\n\s*/g, " | ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

const isRss = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * Parses and validates one line from a worker's stdout. Returns the reply, or a one-line description of what
 * is wrong with it (not JSON, unknown type, missing fields, non-finite numbers).
 */
export function parseReply(line: string): { ok: true; reply: Reply } | { ok: false; problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, problem: `not JSON: ${JSON.stringify(oneLine(line, 80))}` };
  }
  if (!isPlainObject(v)) return { ok: false, problem: `expected a JSON object, got ${describe(v)}` };
  const bad = (what: string) => ({ ok: false as const, problem: `${String(v.type)} reply: ${what}` });
  switch (v.type) {
    case "hello":
      if (!Number.isSafeInteger(v.protocol)) return bad("expected an integer protocol");
      if (!Number.isSafeInteger(v.pid)) return bad("expected an integer pid");
      if (!isRss(v.rss)) return bad("expected rss in bytes");
      return { ok: true, reply: v as unknown as Reply };
    case "ready":
    case "closed":
      if (!isId(v.id)) return bad("expected a positive integer id");
      if (!isRss(v.rss)) return bad("expected rss in bytes");
      return { ok: true, reply: v as unknown as Reply };
    case "telemetry": {
      if (!isId(v.id)) return bad("expected a positive integer id");
      if (!isRss(v.rss)) return bad("expected rss in bytes");
      if (!Number.isSafeInteger(v.ts) || (v.ts as number) < 0) {
        return bad(`ts: expected integer epoch milliseconds, got ${JSON.stringify(v.ts)}`);
      }
      const problem = checkMetrics(v.metrics);
      if (problem) return bad(problem);
      return { ok: true, reply: v as unknown as Reply };
    }
    case "error":
      if (!isId(v.id)) return bad("expected a positive integer id");
      if (!isRss(v.rss)) return bad("expected rss in bytes");
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
