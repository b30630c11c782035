/**
 * Validation of an ingest request body (docs/ingest-protocol.md). The batch shape must be right as a whole
 * (else 400); each record is then checked on its own, including that its id is the SHA-256 of its content.
 */
import { checkFields, checkId, InvalidRecordError, recordId } from "../record/mod.ts";
import type { Rejection, WireRecord } from "../wire/protocol.ts";

/** A parsed request: the batch fields, valid records and per-record rejections. */
export interface CheckedBatch {
  /** `agent_id` of the request. */
  readonly agentId: string;
  /** Records that passed every check. */
  readonly valid: WireRecord[];
  /** Records refused, with the reason. */
  readonly rejected: Rejection[];
}

/** Parses and checks a JSON body; returns an error string (for a 400) when the batch itself is malformed. */
export function checkBatch(text: string, rejectIds: ReadonlyMap<string, string>): CheckedBatch | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return "body is not valid JSON";
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "body: expected a JSON object";
  const { agent_id, sent_at, records } = doc as Record<string, unknown>;
  if (typeof agent_id !== "string" || agent_id === "") return "agent_id: expected a non-empty string";
  if (typeof sent_at !== "number" || !Number.isFinite(sent_at)) return "sent_at: expected epoch milliseconds";
  if (!Array.isArray(records)) return "records: expected an array";
  const valid: WireRecord[] = [];
  const rejected: Rejection[] = [];
  records.forEach((r, i) => {
    const problem = checkRecord(r, rejectIds);
    if (problem === null) valid.push(r as WireRecord);
    else {
      const id = r && typeof r === "object" && typeof r.id === "string" ? r.id : `#${i}`;
      rejected.push({ id, reason: problem });
    }
  });
  return { agentId: agent_id, valid, rejected };
}

function checkRecord(r: unknown, rejectIds: ReadonlyMap<string, string>): string | null {
  if (typeof r !== "object" || r === null || Array.isArray(r)) return "expected a JSON object";
  const { id, machine_id, ts, metrics } = r as Record<string, unknown>;
  const badId = checkId(id);
  if (badId) return badId;
  const injected = rejectIds.get(id as string);
  if (injected !== undefined) return injected;
  const bad = checkFields({ machine_id, ts, metrics });
  if (bad) return bad;
  try {
    if (recordId({ machine_id, ts, metrics } as WireRecord) !== id) {
      return "id does not match the record's content";
    }
  } catch (e) {
    if (e instanceof InvalidRecordError) return e.message;
    throw e;
  }
  return null;
}
