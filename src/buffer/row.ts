/** Checking and serialising a record before it joins a group commit. */
import {
  checkId,
  checkMachineId,
  checkTs,
  type IdentifiedRecord,
  InvalidRecordError,
} from "../record/shape.ts";
import { errorText } from "./errors.ts";
import type { NewRow } from "./store.ts";

/**
 * Checks what SQLite would otherwise refuse for the whole batch, and serialises the metrics (before the
 * transaction, so one bad record cannot fail the others). Throws InvalidRecordError.
 */
export function toRow(r: IdentifiedRecord): NewRow {
  const problem = checkId(r.id) ?? checkMachineId(r.machine_id) ?? checkTs(r.ts);
  if (problem) throw new InvalidRecordError(problem);
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
