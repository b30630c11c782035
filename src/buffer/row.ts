/** Checking and serialising a record before it joins a group commit. */
import { type IdentifiedRecord, InvalidRecordError } from "../record/mod.ts";
import { errorText } from "./errors.ts";
import type { NewRow } from "./store.ts";

const ID = /^[0-9a-f]{64}$/;

/**
 * Checks what SQLite would otherwise refuse for the whole batch, and serialises the metrics (before the
 * transaction, so one bad record cannot fail the others). Throws InvalidRecordError.
 */
export function toRow(r: IdentifiedRecord): NewRow {
  if (typeof r.id !== "string" || !ID.test(r.id)) {
    throw new InvalidRecordError(`id: expected 64 lowercase hex digits, got ${JSON.stringify(r.id)}`);
  }
  if (typeof r.machine_id !== "string" || r.machine_id === "") {
    throw new InvalidRecordError(
      `machine_id: expected a non-empty string, got ${JSON.stringify(r.machine_id)}`,
    );
  }
  if (!Number.isSafeInteger(r.ts)) {
    throw new InvalidRecordError(`ts: expected an integer, got ${String(r.ts)}`);
  }
  let metrics: string | undefined;
  try {
    metrics = JSON.stringify(r.metrics);
  } catch (e) {
    throw new InvalidRecordError(`metrics: ${errorText(e)}`);
  }
  if (typeof metrics !== "string" || !metrics.startsWith("{")) {
    throw new InvalidRecordError(`metrics: expected a JSON object, got ${metrics ?? typeof r.metrics}`);
  }
  return { id: r.id, machine_id: r.machine_id, ts: r.ts, metrics };
}
