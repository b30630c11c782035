/**
 * The HTTP seam of the uplink: one POST per batch with the protocol's headers, a per-request timeout, an
 * optional extra CA (`uplink.ca_file`, for TLS-inspecting corporate proxies; certificates are always
 * verified), and the api key read from an environment variable or a file.
 *
 * Proxies: Deno's fetch honours `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (upper or lower case) by itself;
 * nothing here overrides them (tests/uplink_tls_proxy_test.ts checks all three).
 *
 * The api key never leaves this module except in the Authorization header: every error text that could
 * carry it is passed through {@link redact}.
 */
import type { UplinkSection } from "../config/types.ts";
import { redactSecret } from "../log/mod.ts";
import type { PostResult } from "./classify.ts";
import { encodeBatch, type EncodedBody, type OutgoingRecord, USER_AGENT } from "../wire/protocol.ts";

/** Thrown when the api key cannot be found; the message names the variable or file, never the key. */
export class ApiKeyError extends Error {
  override name = "ApiKeyError";
}

const HEADER_SAFE = /^[\x21-\x7e]+$/;

/**
 * Reads the api key named by `uplink.api_key_env` or `uplink.api_key_file` (surrounding whitespace
 * trimmed). Throws {@link ApiKeyError} with one line naming the variable or file.
 */
export function resolveApiKey(uplink: UplinkSection): string {
  let key: string;
  let source: string;
  if (uplink.apiKeyEnv) {
    source = `environment variable ${uplink.apiKeyEnv} (uplink.api_key_env)`;
    const v = Deno.env.get(uplink.apiKeyEnv);
    if (v === undefined) throw new ApiKeyError(`api key not found: ${source} is not set`);
    key = v.trim();
  } else if (uplink.apiKeyFile) {
    source = `file ${uplink.apiKeyFile} (uplink.api_key_file)`;
    try {
      key = Deno.readTextFileSync(uplink.apiKeyFile).trim();
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? "not found"
        : e instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : e instanceof Deno.errors.IsADirectory
        ? "is a directory"
        : "cannot be read";
      throw new ApiKeyError(`api key not readable: ${source}: ${why}`);
    }
  } else {
    throw new ApiKeyError("no api key configured (expected uplink.api_key_env or uplink.api_key_file)");
  }
  if (key === "") throw new ApiKeyError(`api key is empty in ${source}`);
  if (!HEADER_SAFE.test(key)) {
    throw new ApiKeyError(`api key in ${source} contains spaces or characters not allowed in an HTTP header`);
  }
  redactSecret(key); // whatever logs it by accident (a proxy's echo in an error body), never in a log line
  return key;
}

/**
 * Replaces every occurrence of `secret` in `text`. Secrets shorter than 6 characters are left alone: they
 * would match ordinary words (a key "k" would turn "UnknownIssuer" into "Un***nownIssuer") and are no secret.
 */
export function redact(text: string, secret: string | null): string {
  return secret && secret.length >= 6 ? text.split(secret).join("***") : text;
}

/** Options of {@link createTransport}. */
export interface TransportOptions {
  /** The ingest url. */
  readonly url: string;
  /** Sent as `agent_id`. */
  readonly agentId: string;
  /** Gzip bodies. */
  readonly gzip: boolean;
  /** Per-request timeout (covers the answer's body too). */
  readonly timeoutMs: number;
  /** Extra CA certificate file (PEM), or null. */
  readonly caFile: string | null;
  /** Returns the api key (called per request, so a corrected key file is picked up). Throws ApiKeyError. */
  readonly apiKey: () => string;
  /** fetch seam; default the global fetch. */
  readonly fetch?: typeof fetch;
  /** Clock for `sent_at`. */
  readonly clock?: () => number;
}

/** Posts batches; {@link Transport.close} releases the TLS client. */
export interface Transport {
  /** Sends one batch; never throws (errors become a {@link PostResult}). `signal` aborts it. */
  post(records: readonly OutgoingRecord[], signal?: AbortSignal): Promise<PostResult>;
  /** Encodes a batch ahead of time (`sent_at` is now). */
  encode(records: readonly OutgoingRecord[]): EncodedBody;
  /** Sends a body made by {@link Transport.encode}; never throws. */
  send(body: EncodedBody, signal?: AbortSignal): Promise<PostResult>;
  /** Releases resources (the custom TLS client). */
  close(): void;
}

/** Thrown by createTransport when `uplink.ca_file` cannot be used. */
export class CaFileError extends Error {
  override name = "CaFileError";
}

/** Reads `uplink.ca_file`; throws {@link CaFileError} when it is unreadable or holds no PEM certificate. */
export function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = Deno.readTextFileSync(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "not found"
      : e instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : "cannot be read";
    throw new CaFileError(`uplink.ca_file ${file}: ${why}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new CaFileError(`uplink.ca_file ${file}: expected a PEM certificate (BEGIN CERTIFICATE)`);
  }
  return pem;
}

/** Builds the HTTP transport. Throws {@link CaFileError} when the CA file is unreadable or not PEM. */
export function createTransport(opts: TransportOptions): Transport {
  const doFetch = opts.fetch ?? fetch;
  const clock = opts.clock ?? Date.now;
  let client: Deno.HttpClient | undefined;
  if (opts.caFile) client = Deno.createHttpClient({ caCerts: [readCaFile(opts.caFile)] });
  const encode = (records: readonly OutgoingRecord[]) =>
    encodeBatch(opts.agentId, clock(), records, opts.gzip);
  const send = async ({ body, contentEncoding }: EncodedBody, signal?: AbortSignal): Promise<PostResult> => {
    let key: string | null = null;
    try {
      key = opts.apiKey();
    } catch (e) {
      return { kind: "no_key", error: e instanceof Error ? e.message : String(e) };
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "authorization": `Bearer ${key}`,
      "user-agent": USER_AGENT,
    };
    if (contentEncoding) headers["content-encoding"] = contentEncoding;
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await doFetch(opts.url, {
        method: "POST",
        headers,
        body,
        signal: combined,
        redirect: "manual",
        ...(client ? { client } : {}),
      } as RequestInit);
      const text = await res.text();
      return {
        kind: "response",
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        body: text,
      };
    } catch (e) {
      if (signal?.aborted) return { kind: "aborted" };
      if (timeout.aborted) return { kind: "timeout", timeoutMs: opts.timeoutMs };
      return { kind: "network", error: redact(describeFetchError(e), key) };
    }
  };
  return {
    encode,
    send,
    post: (records, signal) => send(encode(records), signal),
    close() {
      client?.close();
    },
  };
}

/** One line for a fetch failure, including the cause (e.g. connection refused, certificate unknown). */
function describeFetchError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return `${e.message}${cause}`.split("\n")[0];
}
