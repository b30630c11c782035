/**
 * Logging. Every module logs through {@link getLog}; `setupLogging` decides where lines go: stderr always, and
 * `<data_dir>/logs/agent.log` (rotated, 10 MiB x 5) for long-running commands. One line per event:
 * `2026-11-27T21:59:38.123Z CRITICAL simco.engine: machine mill-01 breaker open ...`.
 * Levels: debug, info, warning, error, critical (logtape calls the last one "fatal").
 */
import { configure, getLogger, type LogLevel, type LogRecord, reset, type Sink } from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { join } from "node:path";

/** A category logger with the agent's level names. */
export interface Log {
  /** Detail for troubleshooting. */
  debug(message: string, props?: Record<string, unknown>): void;
  /** Normal events. */
  info(message: string, props?: Record<string, unknown>): void;
  /** Something is off but handled. */
  warn(message: string, props?: Record<string, unknown>): void;
  /** An operation failed. */
  error(message: string, props?: Record<string, unknown>): void;
  /** Needs a person: data at risk, a machine given up on, configuration rejected by the cloud. */
  critical(message: string, props?: Record<string, unknown>): void;
}

/** Options for {@link setupLogging}. */
export interface LogOptions {
  /** Lowest level written. */
  readonly level: "debug" | "info" | "warning" | "error";
  /** When set, also write `<dataDir>/logs/agent.log`. */
  readonly dataDir?: string | null;
  /** Write to stderr (default true). */
  readonly console?: boolean;
}

const LEVEL_NAMES: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "CRITICAL",
};

/** Formats one record as a single line (newlines in messages are escaped so one event is one line). */
export function formatRecord(record: LogRecord): string {
  let msg = "";
  record.message.forEach((part, i) => {
    msg += i % 2 === 0 ? String(part) : typeof part === "string" ? part : JSON.stringify(part);
  });
  const props = Object.entries(record.properties)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const line = `${new Date(record.timestamp).toISOString()} ${LEVEL_NAMES[record.level]} ${
    record.category.join(".")
  }: ${msg}${props ? " " + props : ""}`;
  return line.replace(/\r?\n/g, "\\n");
}

/**
 * Something drawn in place on the terminal's last line (the `drain`/`upload` progress bar). Log lines must
 * not glue onto it: the stderr sink clears it before writing a line and draws it again after.
 */
export interface StatusLine {
  /** Erases the line (cursor back at its start). */
  clear(): void;
  /** Draws the line again. */
  redraw(): void;
}

let statusLine: StatusLine | null = null;

/** Registers (or with null removes) the line that log lines on stderr must clear first. */
export function setStatusLine(line: StatusLine | null): void {
  statusLine = line;
}

const stderrSink: Sink = (record) => {
  const line = statusLine;
  line?.clear();
  console.error(formatRecord(record));
  line?.redraw();
};

/** Configures logging for this process. Safe to call again (replaces the previous setup). */
export async function setupLogging(opts: LogOptions): Promise<void> {
  const sinks: Record<string, Sink> = {};
  if (opts.console !== false) sinks.stderr = stderrSink;
  if (opts.dataDir) {
    const dir = join(opts.dataDir, "logs");
    await Deno.mkdir(dir, { recursive: true });
    sinks.file = getRotatingFileSink(join(dir, "agent.log"), {
      formatter: (r) => formatRecord(r) + "\n",
      maxSize: 10 * 1024 * 1024,
      maxFiles: 5,
    });
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["simco"], lowestLevel: opts.level, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: Object.keys(sinks) },
    ],
  });
}

/** Flushes and closes the sinks (call before exit so the log file is complete). */
export async function shutdownLogging(): Promise<void> {
  await reset();
}

/** A logger for `simco.<category...>`. Before setupLogging it writes nothing. */
export function getLog(...category: string[]): Log {
  const l = getLogger(["simco", ...category]);
  // Messages are plain text, not LogTape templates: a server's JSON reply in a message must print as is.
  const t = (m: string) => m.replaceAll("{", "{{").replaceAll("}", "}}");
  return {
    debug: (m, p) => l.debug(t(m), p ?? {}),
    info: (m, p) => l.info(t(m), p ?? {}),
    warn: (m, p) => l.warn(t(m), p ?? {}),
    error: (m, p) => l.error(t(m), p ?? {}),
    critical: (m, p) => l.fatal(t(m), p ?? {}),
  };
}
