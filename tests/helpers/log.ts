/** The one recording logger of the tests: a {@link Log} that keeps every line for assertions. */
import type { Log } from "../../src/log/mod.ts";

/** A level of {@link Log}. */
export type Level = "debug" | "info" | "warn" | "error" | "critical";

/** A Log that records every call: `lines` as `LEVEL message {props}`, `at(level)` the messages of one level. */
export class RecordingLog implements Log {
  /** Every call, in order. */
  readonly entries: { readonly level: Level; readonly message: string }[] = [];
  /** Every call as one line, `LEVEL message` plus the props as JSON when there are any. */
  readonly lines: string[] = [];

  #put(level: Level, message: string, props?: Record<string, unknown>): void {
    this.entries.push({ level, message });
    const extra = props && Object.keys(props).length ? " " + JSON.stringify(props) : "";
    this.lines.push(`${level.toUpperCase()} ${message}${extra}`);
  }

  /** Records a debug line. */
  debug(m: string, p?: Record<string, unknown>): void {
    this.#put("debug", m, p);
  }
  /** Records an info line. */
  info(m: string, p?: Record<string, unknown>): void {
    this.#put("info", m, p);
  }
  /** Records a warning. */
  warn(m: string, p?: Record<string, unknown>): void {
    this.#put("warn", m, p);
  }
  /** Records an error. */
  error(m: string, p?: Record<string, unknown>): void {
    this.#put("error", m, p);
  }
  /** Records a critical line. */
  critical(m: string, p?: Record<string, unknown>): void {
    this.#put("critical", m, p);
  }

  /** The messages logged at `level`. */
  at(level: Level): string[] {
    return this.entries.filter((e) => e.level === level).map((e) => e.message);
  }

  /** All lines joined, for assertStringIncludes. */
  text(): string {
    return this.lines.join("\n");
  }
}
