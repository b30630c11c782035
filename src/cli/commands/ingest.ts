/**
 * `simco-agent ingest`: the reference ingest (src/ingest/mod.ts) as a command, for commissioning ("is my
 * agent sending?") and for trying an offline `upload`. It runs until stopped (Ctrl-C, SIGTERM), never reads
 * stdin (so it runs with stdin at /dev/null, under a service manager, or in the background of an
 * interactive shell without being stopped for tty input), and prints one line per batch received.
 *
 * It is a test server: it stores each record once in a SQLite file (no fsync), speaks plain HTTP, and
 * checks the api key only when `--api-key-env` is given.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type IngestEvent, startIngest } from "../../ingest/mod.ts";
import { userCwd } from "../../runtime.ts";
import { type Command, EXIT, RuntimeFailure, UsageError } from "../command.ts";
import { onStopSignals } from "./run.ts";

/** Default `--listen`. */
export const DEFAULT_LISTEN = "127.0.0.1:8080";

/** Parses `HOST:PORT` (`[v6]:PORT` for IPv6); throws a UsageError naming the flag. */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `--listen: expected HOST:PORT such as ${DEFAULT_LISTEN} (port 0-65535), got "${text}"`,
      true,
    );
  }
  return { hostname: m[1].replace(/^\[|\]$/g, ""), port };
}

const REFUSALS: Record<number, string> = {
  0: "dropped (injected fault)",
  400: "malformed batch",
  401: "missing or wrong api key (the agent's key must equal this ingest's)",
  413: "batch too large",
  415: "wrong content type or encoding",
  422: "invalid records in the batch, nothing stored",
};

/** One line per telemetry request. */
export function formatEvent(e: IngestEvent): string {
  const at = new Date(e.at).toISOString().replace("T", " ").slice(0, 19) + "Z";
  if (e.status === 200) {
    return `${at}  agent ${e.agentId}: ${e.records} record(s) received, ${e.accepted} new, ${e.duplicates} duplicate(s)`;
  }
  return `${at}  refused with HTTP ${e.status}: ${REFUSALS[e.status] ?? "error"}` +
    (e.records ? ` (${e.records} record(s))` : "");
}

function listenError(e: unknown, listen: string): Error {
  const code = (e as { code?: string })?.code;
  const why = code === "EADDRINUSE"
    ? "the port is already in use (another ingest running? choose another port with --listen)"
    : code === "EACCES"
    ? "permission denied (ports below 1024 need administrator rights; choose another port)"
    : code === "EADDRNOTAVAIL"
    ? "this computer has no such address (use 127.0.0.1 or one of its own addresses)"
    : e instanceof Error
    ? e.message
    : String(e);
  return new RuntimeFailure(`cannot listen on ${listen}: ${why}`);
}

/** The `ingest` command. */
export const ingestCommand: Command = {
  name: "ingest",
  summary: "run the reference ingest, printing each batch received (commissioning: is my agent sending?)",
  details: [
    "Accepts telemetry batches as the SIMCO cloud does (docs/ingest-protocol.md), stores each record once in",
    "the --db SQLite file and prints one line per batch: agent id, records, new, duplicates; refused requests",
    "with their HTTP status. Runs until Ctrl-C or SIGTERM (then prints the totals, exit 0); never reads",
    "stdin, so it also runs in the background or as a service. Point an agent at it with [uplink]",
    'url = "http://HOST:PORT/v1/telemetry" and the same api key. A port in use: one line, exit 1.',
  ].join("\n"),
  flags: [{
    name: "listen",
    type: "string",
    value: "HOST:PORT",
    description: `address to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free one)`,
  }, {
    name: "db",
    type: "string",
    value: "FILE",
    description: "SQLite file for the received records (created if missing)",
    required: true,
  }, {
    name: "api-key-env",
    type: "string",
    value: "VAR",
    description: "environment variable holding the api key agents must send (default: accept any)",
  }],
  positionals: [],
  async run(args) {
    const listen = typeof args.flags.listen === "string" ? args.flags.listen : DEFAULT_LISTEN;
    const { hostname, port } = parseListen(listen);
    const db = resolve(userCwd(), String(args.flags.db));
    if (!existsSync(dirname(db))) {
      throw new UsageError(`--db ${db}: folder ${dirname(db)} does not exist`);
    }
    const keyEnv = typeof args.flags["api-key-env"] === "string" ? args.flags["api-key-env"] : null;
    const apiKey = keyEnv === null ? undefined : Deno.env.get(keyEnv);
    if (keyEnv !== null && !apiKey) {
      throw new UsageError(
        `--api-key-env ${keyEnv}: environment variable ${keyEnv} is ${
          apiKey === "" ? "empty" : "not set"
        } (expected the api key the agents send)`,
      );
    }
    let ingest;
    try {
      ingest = await startIngest({
        dbPath: db,
        hostname,
        port,
        apiKey,
        onRequest: (e) => console.log(formatEvent(e)),
      });
    } catch (e) {
      throw listenError(e, listen);
    }
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    console.log(
      `ingest: listening on http://${host}:${ingest.port}/v1/telemetry, ` +
        `storing in ${db}; ${keyEnv ? `api key from $${keyEnv}` : "no api key required"}; Ctrl-C to stop`,
    );
    const stop = Promise.withResolvers<void>();
    const remove = onStopSignals(() => stop.resolve(), () => Deno.exit(130));
    await stop.promise;
    remove();
    const c = ingest.counts();
    await ingest.close();
    console.log(
      `ingest: stopped; ${c.requests} request(s), ${c.unique} record(s) stored, ${c.duplicates} duplicate(s), ` +
        `${c.rejected} rejected`,
    );
    return EXIT.OK;
  },
};
