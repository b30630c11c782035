/**
 * The uploader against the real reference ingest on loopback, with the real buffer: lost acks, a 5xx storm,
 * a poison record, a wrong api key, a wrong endpoint. Max backoff is 1 s (the smallest the config allows).
 */
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { Uploader } from "../src/uplink/mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { keyFile, openBuffer, seed, uplinkFor } from "./helpers/uplink_env.ts";
import { RecordingLog } from "./helpers/log.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

/** Everything a test needs: dir, ingest, buffer, uploader; `stop()` tears it all down. */
async function setup(
  opts: { apiKey?: string; agentKey?: string; batchSize?: number; path?: string; maxBackoffMs?: number } = {},
) {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: opts.apiKey ?? "k-good" });
  const data = join(dir.path, "data");
  const buffer = openBuffer(data);
  const log = new RecordingLog();
  const key = keyFile(dir.path, opts.agentKey ?? "k-good");
  const url = opts.path ? ingest.url.replace("/v1/telemetry", opts.path) : ingest.url;
  const uploader = new Uploader(buffer, {
    agentId: "agent-t",
    uplink: uplinkFor(url, key, {
      batchSize: opts.batchSize ?? 100,
      maxBackoffMs: opts.maxBackoffMs ?? 1_000,
    }),
    log,
    dataDir: data,
  });
  const ac = new AbortController();
  let loop: Promise<void> | null = null;
  return {
    dir,
    ingest,
    buffer,
    log,
    key,
    uploader,
    start() {
      loop = uploader.runLoop(ac.signal);
    },
    async stop() {
      ac.abort();
      await loop;
      await buffer.close();
      await ingest.close();
      await dir.cleanup();
    },
  };
}

const remaining = (t: { buffer: { stats(): { queued: number; in_flight: number } } }) => {
  const s = t.buffer.stats();
  return s.queued + s.in_flight;
};

Deno.test("ack lost: the server stored the batch, the agent resends, every record stored exactly once", async () => {
  const t = await setup();
  try {
    const recs = await seed(t.buffer, 500);
    t.ingest.inject({ kind: "ack_lost", count: 2 });
    t.start();
    await waitFor("buffer empty", 15_000, () => remaining(t) === 0);
    const c = t.ingest.counts();
    assertEquals([c.unique, c.duplicates, c.rejected], [500, 200, 0]);
    assertEquals(new Set(t.ingest.ids()), new Set(recs.map((r) => r.id)));
    assertEquals(t.buffer.stats().dead_letter, 0);
    assertEquals(t.uploader.status().sent_total, 500);
    const order = t.ingest.tsByMachine("mill-01");
    assertEquals(order, order.toSorted((a, b) => a - b), "records must first arrive in order");
  } finally {
    await t.stop();
  }
});

Deno.test("5xx storm then recovery: waits grow as 2^n + U(0,1) s up to the maximum, Retry-After honoured", async () => {
  // max_backoff 3 s: wait 1 in [2, 3] s, waits 2 and 3 capped at 3 s, then the 429's Retry-After (1 s).
  const t = await setup({ maxBackoffMs: 3_000 });
  try {
    await seed(t.buffer, 300);
    t.ingest.inject({ kind: "fail", count: 3, status: 503 });
    t.ingest.inject({ kind: "fail", count: 1, status: 429, retryAfter: "1" });
    t.start();
    await waitFor("backoff state", 5_000, () => t.uploader.status().state === "backoff");
    await waitFor("buffer empty", 30_000, () => remaining(t) === 0);
    const reqs = t.ingest.requests();
    assertEquals(reqs.slice(0, 5).map((r) => r.status), [503, 503, 503, 429, 200]);
    const gaps = [1, 2, 3, 4].map((i) => reqs[i].at - reqs[i - 1].at);
    const within = (g: number, lo: number, hi: number) => g >= lo - 50 && g <= hi + 1_000; // 1 s slack for a busy machine
    assert(within(gaps[0], 2_000, 3_000), `wait 1 was ${gaps[0]} ms (expected 2-3 s)`);
    assert(within(gaps[1], 3_000, 3_000) && within(gaps[2], 3_000, 3_000), `waits 2, 3: ${gaps} (cap 3 s)`);
    assert(within(gaps[3], 1_000, 1_000), `wait after Retry-After: 1 was ${gaps[3]} ms`);
    assertEquals(t.ingest.counts().unique, 300);
    assertEquals(t.ingest.counts().duplicates, 0);
    const order = t.ingest.tsByMachine("mill-01");
    assertEquals(order, order.toSorted((a, b) => a - b), "records must arrive in order");
    const st = t.uploader.status();
    assertEquals(st.last_error, null);
    assert(st.state === "ok" || st.state === "idle", st.state);
    assertEquals(t.log.lines.filter((l) => l.startsWith("WARN upload failed")).length, 1);
    assert(t.log.lines.some((l) => l.startsWith("INFO uplink recovered after 4")), t.log.lines.join("\n"));
  } finally {
    await t.stop();
  }
});

Deno.test("a failure in the middle of a backlog: the prefetched next batch waits, records arrive in order", async () => {
  const t = await setup();
  try {
    await seed(t.buffer, 400);
    t.ingest.inject({ kind: "delay", ms: 30 }); // the next batch is surely prefetched while one is in flight
    t.ingest.inject({ kind: "fail", skip: 1, count: 1, status: 503 }); // the 2nd request fails
    t.start();
    await waitFor("buffer empty", 15_000, () => remaining(t) === 0);
    assertEquals(t.ingest.requests().map((r) => r.status).slice(0, 3), [200, 503, 200]);
    const order = t.ingest.tsByMachine("mill-01");
    assertEquals(order.length, 400);
    assertEquals(order, order.toSorted((a, b) => a - b), "batch 3 must not overtake the failed batch 2");
  } finally {
    await t.stop();
  }
});

Deno.test("a poison record among 1000: exactly it is dead-lettered, the other 999 arrive", async () => {
  const t = await setup({ batchSize: 1000 });
  try {
    const recs = await seed(t.buffer, 1000);
    const poison = recs[637].id;
    t.ingest.inject({ kind: "reject_id", id: poison, reason: "machine unknown" });
    t.start();
    await waitFor("buffer empty", 15_000, () => remaining(t) === 0);
    assertEquals(t.buffer.stats().dead_letter, 1);
    const dead = t.buffer.listDeadLetters();
    assertEquals(dead.map((d) => d.id), [poison]);
    assert(dead[0].reason.includes("422"), dead[0].reason);
    assertEquals(t.ingest.counts().unique, 999);
    assertEquals(new Set(t.ingest.ids()), new Set(recs.filter((r) => r.id !== poison).map((r) => r.id)));
    assert(t.ingest.counts().requests <= 2 * Math.ceil(Math.log2(1000)) + 1, "bisection, not one by one");
  } finally {
    await t.stop();
  }
});

Deno.test("401 for a while: nothing dead-lettered, everything arrives once the key is fixed", async () => {
  const t = await setup({ agentKey: "k-wrong-secret-123" });
  try {
    const recs = await seed(t.buffer, 250);
    t.start();
    await waitFor("two 401s", 10_000, () => t.ingest.requests().filter((r) => r.status === 401).length >= 2);
    const st = t.uploader.status();
    assertEquals(st.state, "auth_error");
    assertEquals(t.buffer.stats().dead_letter, 0);
    assertEquals(remaining(t), 250);
    Deno.writeTextFileSync(t.key, "k-good\n");
    await waitFor("buffer empty", 10_000, () => remaining(t) === 0);
    assertEquals(t.ingest.counts().unique, recs.length);
    assertEquals(t.buffer.stats().dead_letter, 0);
    const critical = t.log.lines.filter((l) => l.startsWith("CRITICAL"));
    assertEquals(critical.length, 1, "CRITICAL once per episode");
    assert(critical[0].includes("401"), critical[0]);
    for (const l of [...t.log.lines, JSON.stringify(t.uploader.status())]) {
      assert(!l.includes("k-wrong-secret-123") && !l.includes("k-good"), `key leaked: ${l}`);
    }
  } finally {
    await t.stop();
  }
});

Deno.test("an endpoint that rejects every record, or a wrong path: keep everything, CRITICAL once", async () => {
  const t = await setup({ batchSize: 8 });
  const wrong = await setup({ path: "/v1/nope" });
  try {
    const recs = await seed(t.buffer, 8);
    for (const r of recs) t.ingest.inject({ kind: "reject_id", id: r.id });
    await seed(wrong.buffer, 5);
    t.start();
    wrong.start();
    await waitFor("bisection and a retry", 10_000, () => t.ingest.counts().requests >= 15 + 2);
    await waitFor(
      "404",
      5_000,
      () => wrong.ingest.requests().length === 0 && wrong.uploader.status().state !== "idle",
    );
    for (const x of [t, wrong]) {
      assertEquals(x.uploader.status().state, "config_error");
      assertEquals(x.buffer.stats().dead_letter, 0);
      assertEquals(remaining(x), x === t ? 8 : 5);
      assertEquals(x.log.lines.filter((l) => l.startsWith("CRITICAL")).length, 1);
    }
    assert(t.log.lines.some((l) => l.includes("every record sent on its own")), t.log.lines.join("\n"));
    assert(wrong.uploader.status().last_error!.includes("404"));
  } finally {
    await t.stop();
    await wrong.stop();
  }
});
