/**
 * Poison isolation policy over a scripted `post` seam (the behaviour against the real ingest is in
 * tests/uplink_poison_test.ts): which records are acked, dead-lettered or kept.
 */
import { assertEquals } from "../../tests/assert.ts";
import { makeRecords } from "../../tests/helpers/uplink_records.ts";
import type { PostResult } from "./classify.ts";
import { deliver } from "./deliver.ts";
import type { WireRecord } from "../wire/protocol.ts";

/** A cloud that answers 422 to any batch containing a bad id, and 200 otherwise. */
function cloud(bad: Set<string>, calls: number[]) {
  return (recs: readonly WireRecord[]): Promise<PostResult> => {
    calls.push(recs.length);
    const poisoned = recs.some((r) => bad.has(r.id));
    return Promise.resolve({ kind: "response", status: poisoned ? 422 : 200, body: "", retryAfter: null });
  };
}

Deno.test("bisection isolates exactly the poison records", async () => {
  const recs = makeRecords(100);
  const bad = new Set([recs[3].id, recs[77].id]);
  const calls: number[] = [];
  const out = await deliver(recs, cloud(bad, calls));
  assertEquals(out.deadLetters.map((d) => d.id).sort(), [...bad].sort());
  assertEquals(out.acked.length, 98);
  assertEquals(out.unsent, []);
  assertEquals(out.problem, null);
  assertEquals(out.requests, calls.length);
});

Deno.test("every record rejected alone: the endpoint is wrong, nothing dead-lettered", async () => {
  const recs = makeRecords(8);
  const out = await deliver(recs, cloud(new Set(recs.map((r) => r.id)), []));
  assertEquals(out.deadLetters, []);
  assertEquals(out.acked, []);
  assertEquals(out.unsent.sort(), recs.map((r) => r.id).sort());
  assertEquals(out.problem?.kind, "endpoint");
  const one = await deliver(recs.slice(0, 1), cloud(new Set([recs[0].id]), []));
  assertEquals([one.deadLetters.length, one.unsent.length, one.problem?.kind], [0, 1, "endpoint"]);
  // Only a delivery of several records can blame the endpoint; a batch of one is "no evidence" (alone).
  assertEquals(out.problem?.kind === "endpoint" && out.problem.alone, false);
  assertEquals(one.problem?.kind === "endpoint" && one.problem.alone, true);
});

Deno.test("413 splits; a retryable answer mid-bisection keeps what is not yet answered", async () => {
  const recs = makeRecords(10);
  const calls: number[] = [];
  let n = 0;
  const out = await deliver(recs, (batch) => {
    calls.push(batch.length);
    n++;
    if (batch.length > 3) {
      return Promise.resolve({ kind: "response", status: 413, body: "", retryAfter: null });
    }
    if (n === 6) return Promise.resolve({ kind: "response", status: 503, body: "", retryAfter: "3" });
    return Promise.resolve({ kind: "response", status: 200, body: "", retryAfter: null });
  });
  // 10 -> 5,5 -> 3,2 | 5 -> 3,2: the 6th request (first part of the second half) fails.
  assertEquals(calls, [10, 5, 3, 2, 5, 3]);
  assertEquals(out.acked, recs.slice(0, 5).map((r) => r.id));
  assertEquals(out.unsent, recs.slice(5).map((r) => r.id));
  assertEquals(out.problem, { kind: "retry", reason: "HTTP 503", retryAfterMs: 3000 });
  assertEquals(out.tooLargeAt, 5);
});
