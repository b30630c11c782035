/**
 * Pure classification of one HTTP attempt into what the uploader does next (docs/ingest-protocol.md):
 *
 * | outcome                                   | verdict   | agent does                                     |
 * | ----------------------------------------- | --------- | ---------------------------------------------- |
 * | 2xx                                       | `ok`      | ack all but the listed `rejected` (dead letters) |
 * | 413                                       | `split`   | send the halves                                |
 * | 400, 422                                  | `bisect`  | halves until the rejected records are isolated |
 * | 408, 429, 5xx, network, TLS, timeout      | `retry`   | keep, back off `2^n + U(0,1)` s / Retry-After  |
 * | 401, 403                                  | `config`  | keep, CRITICAL once, max backoff (auth)         |
 * | 404, 405, 3xx, other 4xx, 1xx             | `config`  | keep, CRITICAL once, max backoff               |
 */
import { parseRetryAfter } from "./backoff.ts";
import { parseRejections, type Rejection } from "../wire/protocol.ts";

/** What one POST produced, before interpretation. */
export type PostResult =
  | {
    readonly kind: "response";
    readonly status: number;
    readonly retryAfter: string | null;
    readonly body: string;
  }
  | { readonly kind: "network"; readonly error: string }
  | { readonly kind: "timeout"; readonly timeoutMs: number }
  | { readonly kind: "no_key"; readonly error: string }
  | { readonly kind: "aborted" };

/** The uploader's reading of a {@link PostResult}. */
export type Verdict =
  | { readonly kind: "ok"; readonly rejected: readonly Rejection[] }
  | { readonly kind: "split"; readonly status: number }
  | { readonly kind: "bisect"; readonly status: number; readonly detail: string }
  | { readonly kind: "retry"; readonly reason: string; readonly retryAfterMs: number | null }
  | { readonly kind: "config"; readonly status: number; readonly auth: boolean; readonly reason: string }
  | { readonly kind: "aborted" };

/** First line of a response body, shortened, for log messages and dead-letter reasons. */
export function bodySnippet(body: string, max = 200): string {
  const line = body.trim().split(/\r?\n/)[0] ?? "";
  return line.length > max ? line.slice(0, max) + "..." : line;
}

/** Classifies one attempt. `nowMs` resolves a Retry-After given as an HTTP date. */
export function classify(result: PostResult, nowMs: number): Verdict {
  switch (result.kind) {
    case "aborted":
      return { kind: "aborted" };
    case "timeout":
      return { kind: "retry", reason: `no answer within ${result.timeoutMs} ms`, retryAfterMs: null };
    case "network":
      return { kind: "retry", reason: result.error, retryAfterMs: null };
    case "no_key":
      return { kind: "config", status: 0, auth: true, reason: result.error };
  }
  const { status, body } = result;
  if (status >= 200 && status < 300) return { kind: "ok", rejected: parseRejections(body) };
  if (status === 413) return { kind: "split", status };
  if (status === 400 || status === 422) return { kind: "bisect", status, detail: bodySnippet(body) };
  if (status === 408 || status === 429 || status >= 500) {
    const snippet = bodySnippet(body, 120);
    return {
      kind: "retry",
      reason: `HTTP ${status}${snippet ? ` (${snippet})` : ""}`,
      retryAfterMs: parseRetryAfter(result.retryAfter, nowMs),
    };
  }
  const auth = status === 401 || status === 403;
  const what = auth
    ? "the api key was refused"
    : status === 404 || status === 405
    ? "the url does not accept telemetry"
    : status >= 300 && status < 400
    ? "the url redirects (configure the final url)"
    : "the ingest refused the request";
  return { kind: "config", status, auth, reason: `HTTP ${status}: ${what}` };
}
