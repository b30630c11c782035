/**
 * A minimal HTTP/1.1 GET over `Deno.connect`, for the MTConnect driver. Why not `fetch`: in a worker polled
 * for hours, fetch's connection pool and client cost about 5 MiB more resident memory than one short TCP
 * connection per request (measured with bench/mtconnect_bench.ts), and a worker's memory is what limits how
 * many machines one edge PC can watch. One request per connection (`Connection: close`), the whole exchange
 * bounded by a deadline; bodies with Content-Length, chunked transfer encoding, or read to the end.
 */

/** What came back. */
export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** Largest body accepted (a /sample of 10,000 observations is ~1 MiB). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Thrown when the deadline passes. */
export class HttpTimeoutError extends Error {
  override name = "HttpTimeoutError";
}

/** GETs `path` from `host:port`; rejects with HttpTimeoutError past `timeoutMs`, else with the socket's error. */
export async function httpGet(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<HttpResponse> {
  const hostname = host.startsWith("[") ? host.slice(1, -1) : host;
  let conn: Deno.TcpConn | null = null;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn?.close();
    } catch { /* already closed */ }
  }, Math.max(1, timeoutMs));
  try {
    conn = await Deno.connect({ hostname, port });
    if (timedOut) throw new HttpTimeoutError("timed out");
    const hostHeader = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    const req = `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nAccept: application/xml, text/xml\r\n` +
      `User-Agent: simco-agent\r\nConnection: close\r\n\r\n`;
    const bytes = enc.encode(req);
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    const raw = await readAll(conn);
    return parseResponse(raw);
  } catch (e) {
    if (timedOut) throw new HttpTimeoutError("timed out");
    throw e;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed by the timer or the peer */ }
  }
}

async function readAll(conn: Deno.TcpConn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
    if (total > MAX_BODY_BYTES) throw new Error(`response larger than ${MAX_BODY_BYTES} bytes`);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Parses a complete HTTP/1.x response (status line, headers, body). Throws on anything else. Pure. */
export function parseResponse(raw: Uint8Array): HttpResponse {
  let end = -1;
  for (let i = 0; i + 3 < raw.length; i++) {
    if (raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error(`not an HTTP response (${raw.length} bytes, no end of headers)`);
  const head = dec.decode(raw.subarray(0, end)).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(head[0].slice(0, 60))}`);
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) body = dechunk(body);
  else if (headers.has("content-length")) {
    const n = Number(headers.get("content-length"));
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new Error(`bad Content-Length ${headers.get("content-length")}`);
    }
    if (body.length < n) throw new Error(`response cut short: ${body.length} of ${n} body bytes`);
    body = body.subarray(0, n);
  }
  return { status: Number(m[1]), body: dec.decode(body) };
}

function dechunk(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (;;) {
    let eol = off;
    while (eol + 1 < b.length && !(b[eol] === 13 && b[eol + 1] === 10)) eol++;
    if (eol + 1 >= b.length) throw new Error("response cut short: unterminated chunk size");
    const size = parseInt(dec.decode(b.subarray(off, eol)).split(";")[0].trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error("bad chunk size");
    off = eol + 2;
    if (size === 0) break;
    if (off + size > b.length) throw new Error("response cut short inside a chunk");
    parts.push(b.subarray(off, off + size));
    off += size + 2;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
