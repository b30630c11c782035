/**
 * The ingest wire protocol (docs/ingest-protocol.md), shared by the agent and the reference ingest:
 * request body encoding and the shape of the response body.
 */
import { gzipSync } from "node:zlib";
import type { IdentifiedRecord, SerializedRecord } from "../record/shape.ts";
import { VERSION } from "../version.ts";

/** One record as it travels on the wire: the four fields of the record with its id. */
export type WireRecord = IdentifiedRecord;

/** A request body: `{"agent_id", "sent_at", "records"}`. */
export interface WireBatch {
  /** The sending agent. */
  readonly agent_id: string;
  /** Epoch ms when the request was made. */
  readonly sent_at: number;
  /** The records. */
  readonly records: readonly WireRecord[];
}

/** One record the cloud refused, listed in a 2xx answer. */
export interface Rejection {
  /** The record id. */
  readonly id: string;
  /** Why, in the cloud's words. */
  readonly reason: string;
}

/** `User-Agent` sent with every request. */
export const USER_AGENT = `simco-agent/${VERSION}`;

/**
 * One record whose metrics are already JSON text (as the buffer stores them, see
 * TelemetryBuffer.claimRaw): the text goes into the request body as it is, never parsed.
 */
export type RawWireRecord = SerializedRecord;

/** A record the uplink can send: metrics as an object or as JSON text. */
export type OutgoingRecord = WireRecord | RawWireRecord;

/**
 * Serialises a batch as the JSON request body (only the four wire fields of each record). The body is built
 * as text: a record's metrics are `metricsJson` when it has it (spliced unparsed), else
 * `JSON.stringify(metrics)`; both give the same bytes for the same record.
 */
export function encodeBatchJson(
  agentId: string,
  sentAt: number,
  records: readonly OutgoingRecord[],
): string {
  let s = `{"agent_id":${JSON.stringify(agentId)},"sent_at":${JSON.stringify(sentAt)},"records":[`;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const metrics = "metricsJson" in r ? r.metricsJson : JSON.stringify(r.metrics);
    s += (i === 0 ? '{"id":' : ',{"id":') + JSON.stringify(r.id) + ',"machine_id":' +
      JSON.stringify(r.machine_id) + ',"ts":' + JSON.stringify(r.ts) + ',"metrics":' + metrics + "}";
  }
  return s + "]}";
}

/** The request body and the header that describes it. */
export interface EncodedBody {
  /** Bytes to send (gzip), or the JSON text (fetch encodes it as UTF-8). */
  readonly body: Uint8Array<ArrayBuffer> | string;
  /** `gzip` or null. */
  readonly contentEncoding: "gzip" | null;
}

/** Encodes a batch (JSON, gzip level 1 when asked: fast, and telemetry compresses well even so). */
export function encodeBatch(
  agentId: string,
  sentAt: number,
  records: readonly OutgoingRecord[],
  gzip: boolean,
): EncodedBody {
  const json = encodeBatchJson(agentId, sentAt, records);
  if (!gzip) return { body: json, contentEncoding: null };
  return { body: new Uint8Array(gzipSync(json, { level: 1 })), contentEncoding: "gzip" };
}

/**
 * Reads the optional `rejected` list from a 2xx response body. Anything that is not the documented shape
 * (empty body, HTML, other fields) means "nothing rejected": a 2xx acknowledges the whole batch.
 */
export function parseRejections(body: string): Rejection[] {
  if (!body.trim().startsWith("{")) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const list = (parsed as { rejected?: unknown }).rejected;
  if (!Array.isArray(list)) return [];
  const out: Rejection[] = [];
  for (const item of list) {
    if (item && typeof item === "object" && typeof (item as Rejection).id === "string") {
      const reason = (item as { reason?: unknown }).reason;
      out.push({ id: (item as Rejection).id, reason: typeof reason === "string" ? reason : "rejected" });
    }
  }
  return out;
}
