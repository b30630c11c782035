/**
 * HTTP to one MTConnect agent: GET with a deadline, the body parsed (parse.ts), failures turned into
 * {@link MTConnectDriverError}s classified for the operator and the backoff (`kind`):
 *
 * | kind          | what                                                               | transient |
 * | ------------- | ------------------------------------------------------------------ | --------- |
 * | `connection`  | refused, reset, unreachable, DNS                                   | yes       |
 * | `timeout`     | no complete answer before the deadline                             | yes       |
 * | `http`        | a status other than 200 (404: wrong path_prefix; 5xx: agent error) | 5xx yes   |
 * | `malformed`   | not well-formed XML                                                | yes       |
 * | `not_mtconnect` | well-formed, but not an MTConnect document                       | no        |
 * | `mtconnect`   | an MTConnectError document (its errorCode and text)                | by code   |
 * | `no_device`   | the configured device is not served (the error lists those that are) | no      |
 *
 * Every kind fails the poll (cause `driver_error`), so the agent's backoff and breaker apply alike; `transient`
 * only shapes the message ("will retry" or "check the configuration").
 */
import { type MTConnectDocument, MTConnectDocumentError, parseDocument } from "./parse.ts";
import { httpGet, HttpTimeoutError } from "./http.ts";

/** How a failure is classified (see the module comment). */
export type FailureKind =
  | "connection"
  | "timeout"
  | "http"
  | "malformed"
  | "not_mtconnect"
  | "mtconnect"
  | "no_device";

/** A classified driver failure; `code` is the MTConnect errorCode for kind `mtconnect`. */
export class MTConnectDriverError extends Error {
  override name = "MTConnectError";
  /**
   * @param kind classification
   * @param message one line: what was expected, what was received
   * @param code MTConnect errorCode (kind `mtconnect`), else null
   */
  constructor(readonly kind: FailureKind, message: string, readonly code: string | null = null) {
    super(`[${kind}${code ? ` ${code}` : ""}] ${message}`);
  }

  /** Whether retrying the same request may help. */
  get transient(): boolean {
    if (this.kind === "not_mtconnect" || this.kind === "no_device") return false;
    if (this.kind === "mtconnect") return this.code === "OUT_OF_RANGE" || this.code === "TOO_MANY";
    if (this.kind === "http") return !/ 4\d\d /.test(` ${this.message} `);
    return true;
  }
}

/** A parsed answer and when it was received (local clock, for the skew). */
export interface Fetched {
  readonly doc: MTConnectDocument;
  /** Local epoch ms halfway between sending and receiving (for the clock skew). */
  readonly at: number;
}

/** Talks to one agent at `http://host:port<prefix>`. */
export class MTConnectClient {
  readonly #base: string;
  readonly #host: string;
  readonly #port: number;
  readonly #prefix: string;
  readonly #now: () => number;

  /**
   * @param host agent host
   * @param port agent port
   * @param prefix path prefix ("" or "/mtc")
   * @param now clock for the skew (epoch ms)
   */
  constructor(host: string, port: number, prefix: string, now: () => number = Date.now) {
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    this.#prefix = prefix.replace(/\/$/, "");
    this.#base = `http://${h}:${port}${this.#prefix}`;
    this.#host = host;
    this.#port = port;
    this.#now = now;
  }

  /** The URL of a request path (for messages). */
  url(path: string): string {
    return this.#base + path;
  }

  /**
   * GETs `path` (e.g. `/sample?from=5&count=1000`) within `timeoutMs` and parses it. An MTConnectError
   * document is returned as a document (the caller decides: OUT_OF_RANGE is a gap, not a failure), every
   * other problem throws {@link MTConnectDriverError}.
   */
  async get(path: string, timeoutMs: number): Promise<Fetched> {
    const url = this.url(path);
    const sent = this.#now();
    let body: string;
    let status: number;
    try {
      ({ status, body } = await httpGet(this.#host, this.#port, this.#prefix + path, timeoutMs));
    } catch (e) {
      if (e instanceof HttpTimeoutError) {
        throw new MTConnectDriverError("timeout", `GET ${url}: no complete answer within ${timeoutMs} ms`);
      }
      throw new MTConnectDriverError("connection", `GET ${url}: ${describeFetchError(e)}`);
    }
    const at = Math.round((sent + this.#now()) / 2);
    let doc: MTConnectDocument | null = null;
    let problem: MTConnectDocumentError | null = null;
    try {
      doc = parseDocument(body);
    } catch (e) {
      if (!(e instanceof MTConnectDocumentError)) throw e;
      problem = e;
    }
    // Agents answer errors (e.g. 404 NO_DEVICE, 400 OUT_OF_RANGE) with an MTConnectError body: keep its code.
    if (doc?.kind === "error") return { doc, at };
    if (status !== 200) {
      throw new MTConnectDriverError(
        "http",
        `GET ${url}: expected status 200, got ${status} ${snippet(body)}`,
      );
    }
    if (problem) {
      const kind = problem.message.startsWith("malformed") ? "malformed" : "not_mtconnect";
      throw new MTConnectDriverError(kind, `GET ${url}: ${problem.message}`);
    }
    return { doc: doc!, at };
  }
}

function describeFetchError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/refused/i.test(msg)) return "connection refused (is the MTConnect agent running on this host:port?)";
  return msg.split("\n")[0].slice(0, 200);
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat ? `(${JSON.stringify(flat.slice(0, 80))})` : "(empty body)";
}

/** Throws an MTConnectDriverError for an MTConnectError document (its first error's code and text). */
export function errorOf(doc: MTConnectDocument, url: string): MTConnectDriverError {
  if (doc.kind !== "error") {
    return new MTConnectDriverError("not_mtconnect", `GET ${url}: unexpected ${doc.kind}`);
  }
  const first = doc.errors[0] ?? { code: "UNKNOWN", text: "" };
  const more = doc.errors.length > 1 ? ` (+${doc.errors.length - 1} more)` : "";
  return new MTConnectDriverError("mtconnect", `GET ${url}: ${first.text || "(no text)"}${more}`, first.code);
}
