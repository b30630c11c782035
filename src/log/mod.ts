/**
 * Logging. Every module logs through {@link getLog}; `setupLogging` decides where lines go: stderr, and
 * `<data_dir>/logs/agent.log` (rotated at 10 MiB, agent.log.1 .. agent.log.5 kept, so at most ~60 MiB) for
 * commands that keep a record. One line per event, as text:
 * `2026-11-27T21:59:38.123Z CRITICAL simco.engine: machine mill-01: breaker open ...`
 * or, with `[agent] log_format = "json"`, one JSON object per line with `ts`, `level`, `logger`, `message`,
 * `machine` (on every line about a machine) and the event's properties.
 * Levels: debug, info, warning, error, critical (logtape calls the last one "fatal").
 *
 * Secrets registered with {@link redactSecret} (the api key) are replaced by `[redacted]` in every line,
 * whatever the message or property holding them. A log file that cannot be written (disk full) is reported
 * once on stderr as one line, and never through LogTape's internal `logtape.meta` dump.
 */
import { configure, getLogger, type LogLevel, type LogRecord, reset, type Sink } from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { dataDirPaths } from "../datadir/mod.ts";

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

type Level = "debug" | "info" | "warning" | "error";

/** Options for {@link setupLogging}. */
export interface LogOptions {
  /** Lowest level written. */
  readonly level: Level;
  /** Lowest level written to stderr (default: `level`). */
  readonly consoleLevel?: Level;
  /** When set, also write `<dataDir>/logs/agent.log`. */
  readonly dataDir?: string | null;
  /** Write to stderr (default true). */
  readonly console?: boolean;
  /** Line format (default text). */
  readonly format?: "text" | "json";
  /** Size at which agent.log is rotated (default 10 MiB). */
  readonly maxFileBytes?: number;
  /** Rotated files kept besides agent.log (default 5). */
  readonly maxFiles?: number;
}

const LEVEL_NAMES: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "CRITICAL",
};

/** A property that keeps a line out of the console (it goes to agent.log only); never printed itself. */
export const FILE_ONLY = "_file_only";

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warning: 3, error: 4, fatal: 5 };

const secrets = new Set<string>();

/** Replaces `secret` by `[redacted]` in every log line from now on (secrets shorter than 4 are ignored). */
export function redactSecret(secret: string | null | undefined): void {
  const s = secret?.trim();
  if (s && s.length >= 4) secrets.add(s);
}

function redacted(line: string): string {
  let out = line;
  for (const s of secrets) out = out.replaceAll(s, "[redacted]");
  return out;
}

function messageOf(record: LogRecord): string {
  let msg = "";
  record.message.forEach((part, i) => {
    msg += i % 2 === 0 ? String(part) : typeof part === "string" ? part : JSON.stringify(part);
  });
  return msg;
}

const MACHINE_IN_MESSAGE = /^machine ([A-Za-z0-9._-]{1,64})[:\s]/;

/** The machine a record is about: its `machine` property, a `simco.worker.<id>` logger, or `machine <id>:`. */
export function machineOf(record: LogRecord): string | null {
  const p = record.properties.machine;
  if (typeof p === "string") return p;
  if (record.category[1] === "worker" && record.category[2]) return record.category[2];
  return MACHINE_IN_MESSAGE.exec(messageOf(record))?.[1] ?? null;
}

/** Formats one record as a single text line (newlines in messages are escaped so one event is one line). */
export function formatRecord(record: LogRecord): string {
  const msg = messageOf(record);
  const props = Object.entries(record.properties)
    // `machine=` repeats nothing when the message already names the machine.
    .filter(([k, v]) => !k.startsWith("_") && !(k === "machine" && msg.startsWith(`machine ${v}`)))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const line = `${new Date(record.timestamp).toISOString()} ${LEVEL_NAMES[record.level]} ${
    record.category.join(".")
  }: ${msg}${props ? " " + props : ""}`;
  return redacted(line.replace(/\r?\n/g, "\\n"));
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

/** Writes one formatted line to stderr, clearing and redrawing the status line around it. */
function toStderr(text: string): void {
  const line = statusLine;
  line?.clear();
  console.error(text);
  line?.redraw();
}
/** Formats one record as one JSON object (no newline inside). */
export function formatRecordJson(record: LogRecord): string {
  const machine = machineOf(record);
  return redacted(JSON.stringify({
    ts: new Date(record.timestamp).toISOString(),
    level: LEVEL_NAMES[record.level],
    logger: record.category.join("."),
    message: messageOf(record),
    ...(machine ? { machine } : {}),
    ...Object.fromEntries(Object.entries(record.properties).filter(([k]) => !k.startsWith("_"))),
  }));
}

/**
 * A sink that never throws: the first failure of an episode is one line on stderr, then silence. The file
 * sink buffers, so a call that does not throw proves nothing; the episode ends when the file has changed.
 */
function guarded(path: string, inner: Sink): Sink {
  let failedAtSize: number | null = null;
  const size = () => {
    try {
      return Deno.statSync(path).size;
    } catch {
      return -1;
    }
  };
  const sink: Sink = (record) => {
    try {
      inner(record);
      if (failedAtSize !== null && size() !== failedAtSize) {
        failedAtSize = null;
        console.error(`simco-agent: ${path} is written again`);
      }
    } catch (e) {
      if (failedAtSize === null) {
        console.error(
          `simco-agent: cannot write ${path} (${
            e instanceof Error ? e.message : String(e)
          }); log lines go to the console only until it works again`,
        );
      }
      failedAtSize = size();
    }
  };
  const disposable = inner as Sink & Partial<Disposable>;
  if (disposable[Symbol.dispose]) {
    (sink as Sink & Disposable)[Symbol.dispose] = () => {
      try {
        disposable[Symbol.dispose]!();
      } catch { /* the disk is still full: the tail of the buffer is lost, as reported */ }
    };
  }
  return sink;
}

/** Configures logging for this process. Safe to call again (replaces the previous setup). */
export async function setupLogging(opts: LogOptions): Promise<void> {
  const format = opts.format === "json" ? formatRecordJson : formatRecord;
  const sinks: Record<string, Sink> = {};
  if (opts.console !== false) {
    const min = RANK[opts.consoleLevel ?? opts.level];
    sinks.stderr = (r) => {
      if (RANK[r.level] >= min && r.properties[FILE_ONLY] !== true) toStderr(format(r));
    };
  }
  if (opts.dataDir) {
    const paths = dataDirPaths(opts.dataDir);
    try {
      await Deno.mkdir(paths.logs, { recursive: true });
      sinks.file = guarded(
        paths.log,
        getRotatingFileSink(paths.log, {
          formatter: (r) => format(r) + "\n",
          maxSize: opts.maxFileBytes ?? 10 * 1024 * 1024,
          maxFiles: opts.maxFiles ?? 5,
        }),
      );
    } catch (e) {
      console.error(
        `simco-agent: cannot open ${paths.log} (${
          e instanceof Error ? e.message : String(e)
        }); logging to the console only`,
      );
    }
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["simco"], lowestLevel: opts.level, sinks: Object.keys(sinks) },
      // LogTape's own diagnostics are never dumped on users (sink failures are handled by guarded()).
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
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
