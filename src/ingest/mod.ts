/**
 * The reference ingest: a real HTTP server implementing docs/ingest-protocol.md, used in-process by tests,
 * benchmarks and the demo (`startIngest`), as the `simco-agent ingest` command (commissioning: "is my
 * agent sending?"), or as a child process of benchmarks (src/ingest/main.ts).
 *
 * It gunzips, validates, recomputes every record id and refuses mismatches, deduplicates by id in its own
 * SQLite file, and counts what it saw. Faults can be injected to exercise the agent: failing the next N
 * requests with a status (optionally with Retry-After), hanging, refusing a given record id, storing a batch
 * then dropping the connection before answering ("ack lost"), a per-request delay, and a size limit (413).
 *
 * Built on node:http rather than Deno.serve because the "ack lost" fault must close the TCP connection
 * without sending a status line, which Deno.serve cannot do (it always answers, e.g. 500).
 *
 * Admin endpoints for use from another process (loopback only, no auth; this is a test server):
 * `GET /_admin/counts`, `POST /_admin/fault` (a JSON {@link Fault}).
 */
import http from "node:http";
import https from "node:https";
import { gunzipSync } from "node:zlib";
import { type IngestCounts, IngestStore } from "./store.ts";
import { checkBatch } from "./validate.ts";

export type { IngestCounts } from "./store.ts";

/**
 * A fault to inject. Count-based faults (fail, hang, ack_lost) are consumed in the order injected; `skip`
 * lets that many requests through normally before a `fail` starts.
 */
export type Fault =
  | { kind: "fail"; count: number; status: number; retryAfter?: string; body?: string; skip?: number }
  | { kind: "hang"; count: number }
  | { kind: "ack_lost"; count: number }
  | { kind: "reject_id"; id: string; reason?: string }
  | { kind: "delay"; ms: number }
  | { kind: "max_records"; n: number }
  | { kind: "clear" };

/** Options of {@link startIngest}. */
export interface IngestOptions {
  /** SQLite file for the received records (created if missing). */
  readonly dbPath: string;
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Address to listen on; default 127.0.0.1. */
  readonly hostname?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
  /** Path of the telemetry endpoint; default `/v1/telemetry`. */
  readonly path?: string;
  /**
   * How invalid records are refused: `"status"` (default) answers 422 for the whole batch and stores
   * nothing (the agent must bisect); `"list"` stores the valid ones and lists the others in `rejected`.
   */
  readonly rejectMode?: "status" | "list";
  /** Serve HTTPS with this certificate and key (PEM) instead of HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Called after every telemetry request (the `ingest` command prints one line per batch). */
  readonly onRequest?: (event: IngestEvent) => void;
}

/** One telemetry request as {@link IngestOptions.onRequest} sees it. */
export interface IngestEvent extends IngestRequestLog {
  /** The batch's agent id, when the body was valid. */
  readonly agentId: string | null;
  /** Records newly stored. */
  readonly accepted: number;
  /** Records already stored before (dropped as duplicates). */
  readonly duplicates: number;
}

/** One answered (or dropped) telemetry request, for tests. */
export interface IngestRequestLog {
  /** Epoch ms when the request arrived. */
  readonly at: number;
  /** Status sent, or 0 when the connection was dropped or the request hung. */
  readonly status: number;
  /** Records in the body (0 when it was not parsed). */
  readonly records: number;
}

/** A running ingest. */
export interface Ingest {
  /** Telemetry url, e.g. `http://127.0.0.1:41234/v1/telemetry`. */
  readonly url: string;
  /** The port listened on. */
  readonly port: number;
  /** Current counters. */
  counts(): IngestCounts;
  /** Injects a fault (see {@link Fault}). */
  inject(fault: Fault): void;
  /** Changes (or removes, with null) the required api key. */
  setApiKey(key: string | null): void;
  /** Every stored record id, in arrival order. */
  ids(): string[];
  /** Stored `ts` of one machine's records in arrival order. */
  tsByMachine(machineId: string): number[];
  /** The telemetry requests seen so far (last 10,000). */
  requests(): IngestRequestLog[];
  /** Stops listening, ends hanging requests, closes the store. */
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024 * 1024;

/** Starts the reference ingest. */
export async function startIngest(opts: IngestOptions): Promise<Ingest> {
  const store = new IngestStore(opts.dbPath);
  const path = opts.path ?? "/v1/telemetry";
  const rejectMode = opts.rejectMode ?? "status";
  let apiKey = opts.apiKey ?? null;
  const queue: { fault: Extract<Fault, { count: number }>; left: number; skip: number }[] = [];
  const rejectIds = new Map<string, string>();
  let delayMs = 0;
  let maxRecords = 0;
  const log: IngestRequestLog[] = [];
  const hanging = new Set<() => void>();
  // Open connections, and whether each is between requests (idle keep-alive).
  const sockets = new Map<{ destroy(): void }, { idle: boolean }>();

  const inject = (f: Fault) => {
    switch (f.kind) {
      case "fail":
      case "hang":
      case "ack_lost":
        if (f.count > 0) queue.push({ fault: f, left: f.count, skip: f.kind === "fail" ? f.skip ?? 0 : 0 });
        // HTTP clients (Deno's fetch among them) silently resend a request whose pooled keep-alive
        // connection closed without an answer. So the request that loses its ack must arrive on a fresh
        // connection: close idle ones now, and answer with `connection: close` while this fault waits.
        if (f.kind === "ack_lost") { for (const [s, st] of sockets) if (st.idle) s.destroy(); }
        break;
      case "reject_id":
        rejectIds.set(f.id, f.reason ?? "rejected by injected fault");
        break;
      case "delay":
        delayMs = Math.max(0, f.ms);
        break;
      case "max_records":
        maxRecords = Math.max(0, f.n);
        break;
      case "clear":
        queue.length = 0;
        rejectIds.clear();
        delayMs = 0;
        maxRecords = 0;
        break;
      default:
        throw new Error(`unknown fault ${JSON.stringify(f)}`);
    }
  };
  const takeFault = () => {
    const head = queue[0];
    if (!head) return null;
    if (head.skip > 0) {
      head.skip--;
      return null;
    }
    if (--head.left <= 0) queue.shift();
    return head.fault;
  };
  const record = (status: number, records: number, stored?: { agentId: string; accepted: number }) => {
    const entry = { at: Date.now(), status, records };
    log.push(entry);
    if (log.length > 10_000) log.splice(0, log.length - 10_000);
    opts.onRequest?.({
      ...entry,
      agentId: stored?.agentId ?? null,
      accepted: stored?.accepted ?? 0,
      duplicates: stored ? records - stored.accepted : 0,
    });
  };

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Uint8Array).length;
      if (size <= MAX_BODY) chunks.push(c as Uint8Array);
    }
    const url = new URL(req.url ?? "/", "http://x");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      if (queue[0]?.fault.kind === "ack_lost") headers = { ...headers, connection: "close" };
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(text);
    };
    if (url.pathname === "/_admin/counts" && req.method === "GET") return send(200, store.counts());
    if (url.pathname === "/_admin/fault" && req.method === "POST") {
      try {
        inject(JSON.parse(new TextDecoder().decode(concat(chunks))));
        return send(200, { ok: true });
      } catch (e) {
        return send(400, { error: String(e) });
      }
    }
    if (url.pathname !== path) return send(404, { error: `no such endpoint ${url.pathname}` });
    if (req.method !== "POST") return send(405, { error: "expected POST" });
    store.countRequest();
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const fault = takeFault();
    if (fault?.kind === "fail") {
      record(fault.status, 0);
      return send(fault.status, fault.body === undefined ? { error: "injected failure" } : fault.body, {
        ...(fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {}),
      });
    }
    if (fault?.kind === "hang") {
      record(0, 0);
      await new Promise<void>((resolve) => {
        hanging.add(resolve);
        res.on("close", () => {
          hanging.delete(resolve);
          resolve();
        });
      });
      if (!res.writableEnded) res.destroy();
      return;
    }
    if (apiKey !== null && req.headers["authorization"] !== `Bearer ${apiKey}`) {
      record(401, 0);
      return send(401, { error: "missing or invalid api key" });
    }
    if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) {
      record(415, 0);
      return send(415, { error: "expected Content-Type: application/json" });
    }
    if (size > MAX_BODY) {
      record(413, 0);
      return send(413, { error: `body larger than ${MAX_BODY} bytes` });
    }
    let bytes = concat(chunks);
    const encoding = String(req.headers["content-encoding"] ?? "identity").toLowerCase();
    if (encoding === "gzip") {
      try {
        bytes = new Uint8Array(gunzipSync(bytes, { maxOutputLength: MAX_BODY }));
      } catch {
        record(400, 0);
        return send(400, { error: "body is not valid gzip (or inflates past the limit)" });
      }
    } else if (encoding !== "identity") {
      record(415, 0);
      return send(415, { error: `unsupported Content-Encoding ${encoding}` });
    }
    const checked = checkBatch(new TextDecoder().decode(bytes), rejectIds);
    if (typeof checked === "string") {
      record(400, 0);
      return send(400, { error: checked });
    }
    const n = checked.valid.length + checked.rejected.length;
    if (maxRecords && n > maxRecords) {
      record(413, n);
      return send(413, { error: `at most ${maxRecords} records per request` });
    }
    if (checked.rejected.length && rejectMode === "status") {
      store.countRejected(checked.rejected.length);
      record(422, n);
      return send(422, { error: "invalid records in batch; nothing stored", rejected: checked.rejected });
    }
    store.countRejected(checked.rejected.length);
    const { inserted } = store.store(checked.agentId, checked.valid, Date.now());
    if (fault?.kind === "ack_lost") {
      record(0, n);
      // A partial status line, then the close: the client cannot read an answer, and cannot mistake the
      // close for a stale pooled connection either (which HTTP clients silently retry on a new one).
      req.socket.write("HTTP/1.1 200");
      req.socket.destroy();
      return;
    }
    record(200, n, { agentId: checked.agentId, accepted: inserted });
    send(200, {
      accepted: inserted,
      duplicates: checked.valid.length - inserted,
      ...(checked.rejected.length ? { rejected: checked.rejected } : {}),
    });
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const st = sockets.get(req.socket);
    if (st) {
      st.idle = false;
      res.on("finish", () => st.idle = true);
    }
    handler(req, res).catch((e) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(e) }));
      }
    });
  };
  const server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : http.createServer(listener);
  server.on("connection", (s) => {
    sockets.set(s, { idle: true });
    s.on("close", () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, opts.hostname ?? "127.0.0.1", () => resolve());
    });
  } catch (e) {
    store.close(); // a busy port: leave nothing open behind the error
    throw e;
  }
  const port = (server.address() as { port: number }).port;
  let closed: Promise<void> | null = null;
  return {
    url: `${opts.tls ? "https" : "http"}://${opts.hostname ?? "127.0.0.1"}:${port}${path}`,
    port,
    counts: () => store.counts(),
    inject,
    setApiKey: (k) => {
      apiKey = k;
    },
    ids: () => store.ids(),
    tsByMachine: (m) => store.tsByMachine(m),
    requests: () => [...log],
    close() {
      closed ??= (async () => {
        for (const h of hanging) h();
        const done = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets.keys()) s.destroy();
        await done;
        store.close();
      })();
      return closed;
    },
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
