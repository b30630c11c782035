/** The reference ingest over real loopback HTTP: validation, dedupe, counts, auth and every injected fault. */
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { encodeBatchJson } from "../src/wire/protocol.ts";
import { assert, assertEquals } from "./assert.ts";
import { makeRecords } from "./helpers/uplink_records.ts";
import { tempDir } from "./helpers/temp_dir.ts";

async function post(url: string, body: string, opts: { gzip?: boolean; key?: string } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let bytes: Uint8Array<ArrayBuffer> = new TextEncoder().encode(body);
  if (opts.gzip) {
    bytes = new Uint8Array(gzipSync(bytes));
    headers["content-encoding"] = "gzip";
  }
  const res = await fetch(url, { method: "POST", headers, body: bytes });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

Deno.test("ingest stores, dedupes, gunzips and counts", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db") });
  try {
    const recs = makeRecords(10);
    const a = await post(ingest.url, encodeBatchJson("agent-1", Date.now(), recs.slice(0, 6)));
    assertEquals(a.status, 200);
    assertEquals(a.body, { accepted: 6, duplicates: 0 });
    const b = await post(ingest.url, encodeBatchJson("agent-1", Date.now(), recs.slice(4)), { gzip: true });
    assertEquals(b.body, { accepted: 4, duplicates: 2 });
    assertEquals(ingest.counts(), { received: 12, unique: 10, duplicates: 2, rejected: 0, requests: 2 });
    assertEquals(ingest.ids(), recs.map((r) => r.id));
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});

Deno.test("ingest refuses a record whose id does not match its content (422 or listed)", async () => {
  const dir = await tempDir();
  const strict = await startIngest({ dbPath: join(dir.path, "a.db") });
  const lenient = await startIngest({ dbPath: join(dir.path, "b.db"), rejectMode: "list" });
  try {
    const recs = makeRecords(3);
    const forged = [recs[0], { ...recs[1], ts: recs[1].ts + 1 }, recs[2]];
    const a = await post(strict.url, encodeBatchJson("a", 1, forged));
    assertEquals(a.status, 422);
    assertEquals(a.body.rejected, [{ id: recs[1].id, reason: "id does not match the record's content" }]);
    assertEquals(strict.counts().unique, 0);
    const b = await post(lenient.url, encodeBatchJson("a", 1, forged));
    assertEquals(b.status, 200);
    assertEquals(b.body.accepted, 2);
    assertEquals(b.body.rejected.map((r: { id: string }) => r.id), [recs[1].id]);
    assertEquals(lenient.counts().rejected, 1);
    const bad = await post(strict.url, '{"agent_id":"a","records":[]}');
    assertEquals(bad.status, 400);
    assert(String(bad.body.error).includes("sent_at"));
  } finally {
    await strict.close();
    await lenient.close();
    await dir.cleanup();
  }
});

Deno.test("ingest faults: auth, fail with Retry-After, reject id, 413, ack lost, hang, wrong path", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "i.db"), apiKey: "k1" });
  try {
    const recs = makeRecords(4);
    const body = encodeBatchJson("a", 1, recs);
    assertEquals((await post(ingest.url, body, { key: "wrong" })).status, 401);
    ingest.inject({ kind: "fail", count: 2, status: 503, retryAfter: "7" });
    const f1 = await post(ingest.url, body, { key: "k1" });
    assertEquals([f1.status, f1.retryAfter], [503, "7"]);
    assertEquals((await post(ingest.url, body, { key: "k1" })).status, 503);
    ingest.inject({ kind: "reject_id", id: recs[2].id });
    assertEquals((await post(ingest.url, body, { key: "k1" })).status, 422);
    ingest.inject({ kind: "clear" });
    ingest.inject({ kind: "max_records", n: 3 });
    assertEquals((await post(ingest.url, body, { key: "k1" })).status, 413);
    ingest.inject({ kind: "clear" });
    ingest.inject({ kind: "ack_lost", count: 1 });
    let dropped = false;
    try {
      await post(ingest.url, body, { key: "k1" });
    } catch {
      dropped = true;
    }
    assert(dropped, "ack_lost must drop the connection without an answer");
    assertEquals(ingest.counts().unique, 4, "ack_lost stores before dropping");
    ingest.inject({ kind: "hang", count: 1 });
    const ac = new AbortController();
    const hung = fetch(ingest.url, { method: "POST", body, signal: ac.signal }).then(
      () => "answered",
      () => "aborted",
    );
    const winner = await Promise.race([hung, new Promise((r) => setTimeout(() => r("still hanging"), 300))]);
    assertEquals(winner, "still hanging");
    ac.abort();
    assertEquals(await hung, "aborted");
    const wrong = await fetch(ingest.url.replace("/v1/telemetry", "/v2/nope"), { method: "POST", body });
    assertEquals(wrong.status, 404);
    await wrong.body?.cancel();
    const statuses = ingest.requests().map((r) => r.status);
    assertEquals(statuses, [401, 503, 503, 422, 413, 0, 0]);
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});
