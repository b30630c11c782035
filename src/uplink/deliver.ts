/**
 * Delivers one claimed batch: sends it, and on 413 splits it, on 400/422 bisects it until the records the
 * cloud rejects are isolated while the rest is accepted. Pure over a `post` seam, so the same logic serves
 * the buffer's uploader and `upload` of an export file.
 *
 * Poison isolation rule (docs/ingest-protocol.md): a record rejected on its own (400/422/413 as a batch of
 * one) becomes a dead letter only when, during the same delivery, the endpoint accepted some other part of
 * the batch. If every record was rejected on its own, the endpoint is wrong, not the data: nothing is
 * dead-lettered (verdict `endpoint`). A batch of one that is rejected is therefore kept too (verdict
 * `endpoint` with `alone`): the uploader retries it soon, paired with newer records, and the bisection
 * decides; only a delivery of two or more records all refused on their own blames the endpoint. Worst case cost: 2N-1 requests for N records.
 *
 * Records are sent depth-first in their original order, so one machine's records still arrive in order.
 */
import { classify, type PostResult } from "./classify.ts";
import type { OutgoingRecord, Rejection } from "../wire/protocol.ts";

/** Sends one request; resolves to its raw result (never throws). */
export type PostFn<R extends OutgoingRecord = OutgoingRecord> = (
  records: readonly R[],
) => Promise<PostResult>;

/** Why a delivery stopped before every record had an answer. */
export type DeliveryProblem =
  | { readonly kind: "retry"; readonly reason: string; readonly retryAfterMs: number | null }
  | { readonly kind: "config"; readonly status: number; readonly auth: boolean; readonly reason: string }
  | {
    readonly kind: "endpoint";
    readonly status: number;
    readonly reason: string;
    /** True when the delivery held a single record: no evidence either way (docs/ingest-protocol.md). */
    readonly alone: boolean;
  }
  | { readonly kind: "aborted" };

/** The result of {@link deliver}: every input id is in exactly one of acked, deadLetters, unsent. */
export interface DeliveryOutcome {
  /** Accepted by the cloud: delete from the buffer. */
  readonly acked: string[];
  /** Rejected by the cloud as invalid: move to dead letters. */
  readonly deadLetters: Rejection[];
  /** No final answer: return to the queue. */
  readonly unsent: string[];
  /** Why some records are unsent (null when all were answered). */
  readonly problem: DeliveryProblem | null;
  /** Requests made. */
  readonly requests: number;
  /** Smallest batch size that was refused with 413 (null if none): a hint for later batches. */
  readonly tooLargeAt: number | null;
}

/** Sends `records` through `post`, splitting and bisecting as the protocol says. */
export async function deliver<R extends OutgoingRecord>(
  records: readonly R[],
  post: PostFn<R>,
  clock: () => number = Date.now,
): Promise<DeliveryOutcome> {
  const acked: string[] = [];
  const deadLetters: Rejection[] = [];
  const rejectedAlone: Rejection[] = [];
  let lastRejectStatus = 0;
  let anyAccepted = false;
  let requests = 0;
  let tooLargeAt: number | null = null;
  let problem: DeliveryProblem | null = null;
  const pending: (readonly R[])[] = records.length ? [records] : [];
  while (pending.length) {
    const chunk = pending.shift()!;
    requests++;
    const verdict = classify(await post(chunk), clock());
    if (verdict.kind === "ok") {
      if (verdict.rejected.length === 0) {
        for (const r of chunk) acked.push(r.id);
        anyAccepted = true;
        continue;
      }
      const inChunk = new Set(chunk.map((r) => r.id));
      const rejected = new Map<string, string>();
      for (const r of verdict.rejected) if (inChunk.has(r.id)) rejected.set(r.id, r.reason);
      for (const r of chunk) {
        const reason = rejected.get(r.id);
        if (reason === undefined) acked.push(r.id);
        else deadLetters.push({ id: r.id, reason: `rejected by the cloud: ${reason}` });
      }
      if (rejected.size < chunk.length) anyAccepted = true;
      continue;
    }
    if (verdict.kind === "split" || verdict.kind === "bisect") {
      if (verdict.kind === "split") tooLargeAt = Math.min(tooLargeAt ?? Infinity, chunk.length);
      if (chunk.length > 1) {
        const mid = Math.ceil(chunk.length / 2);
        pending.unshift(chunk.slice(0, mid), chunk.slice(mid));
      } else {
        lastRejectStatus = verdict.status;
        const detail = verdict.kind === "bisect" && verdict.detail ? `: ${verdict.detail}` : "";
        rejectedAlone.push({
          id: chunk[0].id,
          reason: verdict.kind === "split"
            ? "HTTP 413: too large even as a batch of one"
            : `HTTP ${verdict.status} for this record alone${detail}`,
        });
      }
      continue;
    }
    problem = verdict.kind === "aborted" ? { kind: "aborted" } : verdict;
    pending.unshift(chunk);
    break;
  }
  const unsent = pending.flatMap((c) => c.map((r) => r.id));
  if (rejectedAlone.length) {
    if (anyAccepted) {
      deadLetters.push(...rejectedAlone);
    } else {
      unsent.push(...rejectedAlone.map((r) => r.id));
      if (problem === null) {
        problem = {
          kind: "endpoint",
          status: lastRejectStatus,
          alone: records.length === 1,
          reason: records.length === 1
            ? `HTTP ${lastRejectStatus} for a batch of one record: kept, to be sent again with newer ` +
              "records (one record refused alone tells a bad record from a bad endpoint only beside others)"
            : `HTTP ${lastRejectStatus} for every record sent on its own (${rejectedAlone.length} ` +
              `record${rejectedAlone.length === 1 ? "" : "s"}): the endpoint refuses the data, keeping it`,
        };
      }
    }
  }
  return { acked, deadLetters, unsent, problem, requests, tooLargeAt };
}
