/**
 * Reading typed values out of a parsed TOML document while collecting problems: each reader method returns the
 * value (or a default) and, when the value is wrong, records one problem naming the key path, the line, what was
 * expected and what was found. Used by the pure config parser (parse.ts).
 */
import { didYouMean } from "../util/suggest.ts";
import { parseDuration } from "./duration.ts";
import { lineOf } from "./key_lines.ts";
import type { ConfigProblem } from "./types.ts";

/** A TOML table as smol-toml returns it. */
export type Table = Record<string, unknown>;

/** Describes a TOML value for "got ..." in messages. */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return `a date (${v.toISOString()})`;
  if (v && typeof v === "object") return "a table";
  return String(v);
}

/** Whether a TOML value is a table. */
export function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Collects problems while reading one document. */
export class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(readonly file: string, readonly lines: Map<string, number>) {}

  problem(key: string, message: string): void {
    this.problems.push({ file: this.file, line: lineOf(this.lines, key), key, message });
  }

  /** Reports keys of `t` not in `allowed`. */
  unknownKeys(t: Table, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(t)) {
      if (!allowed.includes(k)) {
        this.problem(
          path ? `${path}.${k}` : k,
          `unknown key${didYouMean(k, allowed)} (expected one of: ${allowed.join(", ")})`,
        );
      }
    }
  }

  table(parent: Table, key: string, path: string): Table {
    const v = parent[key];
    if (v === undefined) return {};
    if (!isTable(v)) {
      this.problem(path, `expected a table, got ${describeValue(v)}`);
      return {};
    }
    return v;
  }

  string(
    t: Table,
    key: string,
    path: string,
    opts: { required?: boolean; pattern?: RegExp; what?: string } = {},
  ) {
    const v = t[key];
    if (v === undefined) {
      if (opts.required) this.problem(path, `required key is missing (expected ${opts.what ?? "a string"})`);
      return null;
    }
    if (typeof v !== "string" || (opts.pattern && !opts.pattern.test(v)) || v.length === 0) {
      this.problem(path, `expected ${opts.what ?? "a non-empty string"}, got ${describeValue(v)}`);
      return null;
    }
    return v;
  }

  integer(t: Table, key: string, path: string, min: number, max: number, dflt: number | null): number | null {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.problem(path, `expected an integer ${min}..${max}, got ${describeValue(v)}`);
      return dflt;
    }
    return v;
  }

  number(t: Table, key: string, path: string, min: number, max: number, dflt: number | null): number | null {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
      this.problem(path, `expected a number ${min}..${max}, got ${describeValue(v)}`);
      return dflt;
    }
    return v;
  }

  boolean(t: Table, key: string, path: string, dflt: boolean): boolean {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== "boolean") {
      this.problem(path, `expected true or false, got ${describeValue(v)}`);
      return dflt;
    }
    return v;
  }

  duration(t: Table, key: string, path: string, minMs: number, maxMs: number, dflt: string | number): number {
    const fallback = typeof dflt === "number" ? dflt : parseDuration(dflt)!;
    const v = t[key];
    if (v === undefined) return fallback;
    const ms = typeof v === "string" ? parseDuration(v) : null;
    if (ms === null || ms < minMs || ms > maxMs) {
      const range = `${fmtRange(minMs)}..${fmtRange(maxMs)}`;
      this.problem(
        path,
        `expected a duration like "250ms", "5s", "5m" or "1h" (${range}), got ${describeValue(v)}`,
      );
      return fallback;
    }
    return ms;
  }

  enumeration<T extends string>(t: Table, key: string, path: string, values: readonly T[], dflt: T): T {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== "string" || !values.includes(v as T)) {
      const hint = typeof v === "string" ? didYouMean(v, values) : "";
      this.problem(
        path,
        `expected one of ${values.map((x) => `"${x}"`).join(", ")}, got ${describeValue(v)}${hint}`,
      );
      return dflt;
    }
    return v as T;
  }
}

/** Formats a millisecond bound for messages: 1h, 5m, 10s, 250ms. */
export function fmtRange(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
