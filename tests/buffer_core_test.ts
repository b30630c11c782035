/** The buffer's core behaviour on real SQLite files: enqueue, claim, ack, nack, dead letters, capacity. */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  BufferFullError,
  BufferSchemaTooNewError,
  readBufferStats,
  readDeadLetters,
  SCHEMA_VERSION,
  TelemetryBuffer,
} from "../src/buffer/mod.ts";
import { SCHEMA_V1_SQL } from "../src/buffer/schema.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./assert.ts";
import { rec } from "./helpers/buffer_util.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { RecordingLog } from "./helpers/log.ts";
import type { Metrics } from "../src/record/mod.ts";

const OPTS = { maxRecords: 1000, whenFull: "drop_oldest" } as const;

Deno.test("buffer: enqueue, claim in enqueue order, ack, nack keeps place and counts attempts", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    const rs = [5, 3, 9, 1].map((t) => rec(t));
    for (const r of await Promise.all(rs.map((r) => b.enqueue(r)))) assertEquals(r, { inserted: true });
    assertEquals(b.stats().queued, 4);
    assertEquals(b.stats().oldest_queued_ts, 5);
    const c = b.claim(2);
    assertEquals(c.map((x) => x.id), [rs[0].id, rs[1].id]);
    assertEquals(c[0].metrics, rs[0].metrics);
    assertEquals({ q: b.stats().queued, f: b.stats().in_flight }, { q: 2, f: 2 });
    b.ack([c[0].id]);
    b.nack([c[1].id]);
    assertEquals({ q: b.stats().queued, f: b.stats().in_flight }, { q: 3, f: 0 });
    const again = b.claim(10);
    assertEquals(again.map((x) => [x.id, x.attempts]), [[rs[1].id, 1], [rs[2].id, 0], [rs[3].id, 0]]);
    assertEquals(b.claim(10), []);
    // A reader (status, dead-letters list) sees committed state while the writer is open.
    const live = readBufferStats(dir)!;
    assertEquals({ q: live.queued, f: live.in_flight, o: live.oldest_queued_ts }, { q: 0, f: 3, o: null });
    await b.close();
    const stats = readBufferStats(dir)!;
    assertEquals({ q: stats.queued, f: stats.in_flight }, { q: 0, f: 3 });
  });
});

Deno.test("buffer: stale in-flight records return to the queue at open", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    await Promise.all([1, 2, 3].map((t) => b.enqueue(rec(t))));
    const claimed = b.claim(2);
    assertEquals(claimed.length, 2);
    await b.close(); // as if the agent died with a batch in flight
    const log = new RecordingLog();
    const b2 = TelemetryBuffer.open(dir, { ...OPTS, log });
    assertEquals({ q: b2.stats().queued, f: b2.stats().in_flight }, { q: 3, f: 0 });
    assertStringIncludes(log.at("info").join("\n"), "returned 2 stale in-flight records");
    assertEquals(b2.claim(5).map((r) => r.ts), [1, 2, 3]);
    await b2.close();
  });
});

Deno.test("buffer: a repeated record is stored once and counted, across restarts", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    const r = rec(42);
    assertEquals(await b.enqueue(r), { inserted: true });
    const both = await Promise.all([b.enqueue(r), b.enqueue(rec(43)), b.enqueue(rec(43))]);
    assertEquals(both.map((x) => x.inserted), [false, true, false]);
    assertEquals(b.stats().duplicates_total, 2);
    await b.close();
    const b2 = TelemetryBuffer.open(dir, OPTS);
    assertEquals(await b2.enqueue(r), { inserted: false });
    assertEquals(b2.stats().queued, 2);
    assertEquals(b2.stats().duplicates_total, 3);
    await b2.close();
  });
});

Deno.test("buffer: when_full = drop_oldest deletes the oldest queued, persists the count, warns", async () => {
  await withTempDir(async (dir) => {
    const log = new RecordingLog();
    const b = TelemetryBuffer.open(dir, { maxRecords: 10, whenFull: "drop_oldest", log });
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.enqueue(rec(i))));
    const inFlight = b.claim(2); // in-flight records are never dropped
    await Promise.all(Array.from({ length: 5 }, (_, i) => b.enqueue(rec(100 + i))));
    const s = b.stats();
    assertEquals({ q: s.queued, d: s.dropped_total }, { q: 10, d: 3 });
    assert(b.hasRoom());
    assertStringIncludes(log.at("warn").join("\n"), "dropped the 3 oldest queued records");
    await b.close();
    const b2 = TelemetryBuffer.open(dir, { maxRecords: 10, whenFull: "drop_oldest" });
    assertEquals(b2.stats().dropped_total, 3);
    const ts = b2.claim(100).map((r) => r.ts);
    assertEquals(ts, [...inFlight.map((r) => r.ts), 5, 6, 7, 8, 9, 100, 101, 102, 103, 104]);
    await b2.close();
  });
});

Deno.test("buffer: when_full = stop_polling reports no room at the cap and keeps every record", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, { maxRecords: 5, whenFull: "stop_polling", commitMaxRecords: 3 });
    await Promise.all(Array.from({ length: 4 }, (_, i) => b.enqueue(rec(i))));
    assert(b.hasRoom());
    await b.enqueue(rec(4));
    assertEquals(b.hasRoom(), false);
    // Readings already in progress are still accepted, up to a bounded slack (commitMaxRecords)...
    await Promise.all([5, 6, 7].map((t) => b.enqueue(rec(t))));
    // ...and beyond it the buffer refuses rather than grow without bound.
    await assertRejects(() => b.enqueue(rec(8)), BufferFullError, "buffer is full");
    assertEquals(b.stats().queued, 8);
    assertEquals(b.stats().dropped_total, 0);
    b.ack(b.claim(4).map((r) => r.id));
    assert(b.hasRoom());
    await b.close();
  });
});

Deno.test("buffer: dead letters keep the record, reason and time; requeue and purge", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, { ...OPTS, now: () => 1_700_000_000_000 });
    await Promise.all([1, 2, 3].map((t) => b.enqueue(rec(t))));
    const c = b.claim(3);
    b.deadLetter([{ id: c[0].id, reason: "metrics.temp: expected number" }, {
      id: c[2].id,
      reason: "too old",
    }]);
    b.ack([c[1].id]);
    assertEquals(b.stats().dead_letter, 2);
    const dl = readDeadLetters(dir);
    assertEquals(dl.map((d) => [d.id, d.reason, d.dead_at]), [
      [c[0].id, "metrics.temp: expected number", 1_700_000_000_000],
      [c[2].id, "too old", 1_700_000_000_000],
    ]);
    assertEquals(JSON.parse(dl[0].metrics), c[0].metrics);
    assertEquals(b.requeueDeadLetters(), 2);
    assertEquals({ q: b.stats().queued, d: b.stats().dead_letter }, { q: 2, d: 0 });
    const again = b.claim(5);
    b.deadLetter(again.map((r) => ({ id: r.id, reason: "still bad" })));
    assertEquals(b.purgeDeadLetters(), 2);
    assertEquals(b.stats().dead_letter, 0);
    await b.close();
  });
});

Deno.test("buffer: enqueueBatch writes records and the cursor in one transaction; cursor() reads it back", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, { ...OPTS, commitIntervalMs: 10_000 });
    assertEquals(b.cursor("m1"), null);
    const rs = [1, 2, 3].map((t) => rec(t));
    const done = b.enqueueBatch(rs, { machineId: "m1", value: { next: 4 } });
    // Pending, not committed: cursor() already answers with it (a fresh driver must not re-read), the file not.
    assertEquals(b.cursor("m1"), { next: 4 });
    assertEquals(readBufferStats(dir)?.queued ?? 0, 0);
    await b.flush();
    assertEquals(await done, { inserted: [true, true, true] });
    const dup = b.enqueueBatch([rs[0]], { machineId: "m1", value: { next: 5 } });
    const cursorOnly = b.enqueueBatch([], { machineId: "m2", value: [1] });
    await b.flush();
    assertEquals([await dup, await cursorOnly], [{ inserted: [false] }, { inserted: [] }]);
    await b.close();
    const again = TelemetryBuffer.open(dir, OPTS);
    assertEquals([again.cursor("m1"), again.cursor("m2"), again.stats().queued], [{ next: 5 }, [1], 3]);
    await again.close();
  });
});

Deno.test("buffer: a batch refused for room leaves the cursor where it was", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, { maxRecords: 1, whenFull: "stop_polling", commitMaxRecords: 1 });
    await b.enqueueBatch([rec(1), rec(2)], { machineId: "m", value: 1 });
    await assertRejects(() => b.enqueueBatch([rec(3)], { machineId: "m", value: 2 }), BufferFullError);
    assertEquals(b.cursor("m"), 1);
    await b.close();
  });
});

Deno.test("buffer: an older schema is migrated forward with its records", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "buffer.db");
    const old = new DatabaseSync(path);
    old.exec(SCHEMA_V1_SQL + "PRAGMA user_version = 1;");
    const r = rec(7);
    old.prepare(
      "INSERT INTO telemetry_buffer(id, machine_id, ts, metrics, state, attempts, enqueued_at) VALUES (?,?,?,?,?,?,?)",
    ).run(r.id, r.machine_id, r.ts, JSON.stringify(r.metrics), "in_flight", 2, 1);
    old.close();
    const b = TelemetryBuffer.open(dir, OPTS);
    const got = b.claim(5);
    assertEquals(got.map((x) => [x.id, x.attempts]), [[r.id, 2]]);
    b.deadLetter([{ id: r.id, reason: "x" }]);
    assertEquals(b.stats().dead_letter, 1);
    await b.close();
    const check = new DatabaseSync(path, { readOnly: true });
    assertEquals(
      (check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
      SCHEMA_VERSION,
    );
    check.close();
  });
});

Deno.test("buffer: a newer schema is refused with a clear message and left untouched", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "buffer.db");
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE future(x); PRAGMA user_version = ${SCHEMA_VERSION + 7};`);
    db.close();
    const before = await Deno.readFile(path);
    const e = assertThrows(() => TelemetryBuffer.open(dir, OPTS), BufferSchemaTooNewError);
    assertStringIncludes(e.message, `schema version ${SCHEMA_VERSION + 7}`);
    assertStringIncludes(e.message, `up to version ${SCHEMA_VERSION}`);
    assertThrows(() => readBufferStats(dir), BufferSchemaTooNewError);
    assertEquals(await Deno.readFile(path), before);
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.includes("corrupt")), []);
  });
});

Deno.test("buffer: a new file uses WAL and incremental auto-vacuum", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    await b.close();
    const db = new DatabaseSync(join(dir, "buffer.db"));
    assertEquals((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
    assertEquals((db.prepare("PRAGMA auto_vacuum").get() as { auto_vacuum: number }).auto_vacuum, 2);
    db.close();
    assertEquals(readBufferStats(join(dir, "nothing-here")), null);
  });
});

Deno.test("buffer: an invalid record is refused alone; the rest of its batch is stored", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    const good = [rec(1), rec(2)];
    const bad = [
      { ...rec(3), metrics: { big: 1n } as unknown as Metrics },
      { ...rec(4), id: "not-an-id" },
      { ...rec(5), ts: 1.5 },
    ];
    const out = await Promise.allSettled([good[0], ...bad, good[1]].map((r) => b.enqueue(r)));
    assertEquals(out.map((o) => o.status), ["fulfilled", "rejected", "rejected", "rejected", "fulfilled"]);
    const reasons = out.filter((o) => o.status === "rejected").map((o) =>
      String((o as PromiseRejectedResult).reason)
    );
    assertStringIncludes(reasons[0], "InvalidRecordError: metrics:");
    assertStringIncludes(reasons[1], 'id: expected 64 lowercase hex digits, got "not-an-id"');
    assertStringIncludes(reasons[2], "ts: expected integer epoch milliseconds >= 0, got 1.5");
    assertEquals(b.claim(10).map((r) => r.id), good.map((r) => r.id));
    await b.close();
  });
});

Deno.test("readBufferStats: no file or an empty file is null; counts come from a live writer", async () => {
  await withTempDir(async (dir) => {
    assertEquals(readBufferStats(dir), null);
    new DatabaseSync(join(dir, "buffer.db")).close(); // created, no tables yet
    assertEquals(readBufferStats(dir), null);
    assertEquals(readDeadLetters(dir), []);
    const b = TelemetryBuffer.open(dir, OPTS);
    await Promise.all([10, 11, 12].map((t) => b.enqueue(rec(t))));
    b.claim(1);
    const s = readBufferStats(dir)!;
    assertEquals([s.queued, s.in_flight, s.oldest_queued_ts], [2, 1, 11]);
    assert(s.file_bytes > 0);
    await b.close();
  });
});

Deno.test("buffer: group commit writes at commitMaxRecords at once, else waits for the timer or flush", async () => {
  await withTempDir(async (dir) => {
    // An interval of an hour: only the record count or flush() can commit.
    const b = TelemetryBuffer.open(dir, { ...OPTS, commitMaxRecords: 100, commitIntervalMs: 3_600_000 });
    const first = Array.from({ length: 100 }, (_, i) => b.enqueue(rec(i)));
    await Promise.all(first); // the 100th record triggered the commit
    assertEquals(readBufferStats(dir)!.queued, 100, "resolved before the rows were committed");
    let lateDone = false;
    const late = b.enqueue(rec(500)).then(() => (lateDone = true));
    await new Promise((r) => setTimeout(r, 50));
    assertEquals([lateDone, b.stats().pending, readBufferStats(dir)!.queued], [false, 1, 100]);
    await b.flush();
    await late;
    assertEquals(readBufferStats(dir)!.queued, 101);
    await b.close();
  });
});

Deno.test("buffer: claims start after what is in flight, and still see reused rowids and nacked records", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    await b.enqueue(rec(1));
    b.ack(b.claim(1).map((r) => r.id)); // the table is empty again: the next row reuses rowid 1
    await b.enqueue(rec(2));
    assertEquals(b.claim(5).map((r) => r.ts), [2]);
    await Promise.all([3, 4, 5, 6].map((t) => b.enqueue(rec(t))));
    const a = b.claim(2);
    const c = b.claim(2);
    assertEquals([...a, ...c].map((r) => r.ts), [3, 4, 5, 6]);
    b.nack([a[1].id]);
    assertEquals(b.claim(5).map((r) => r.ts), [4]);
    await b.close();
  });
});

Deno.test("buffer: claimRaw hands out the stored metrics text; space comes back once the queue is empty", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, { ...OPTS, maxRecords: 10_000 });
    const rs = Array.from({ length: 3000 }, (_, i) => rec(i, "mill-01", { note: "x".repeat(1000) }));
    await Promise.all(rs.map((r) => b.enqueue(r)));
    const full = b.pageCount();
    assert(full > 1000, `expected a file over 4 MiB, got ${full} pages`);
    const first = b.claimRaw(1000);
    assertEquals(first.map((r) => r.id), rs.slice(0, 1000).map((r) => r.id));
    assertEquals(first.map((r) => r.metricsJson), rs.slice(0, 1000).map((r) => JSON.stringify(r.metrics)));
    assertEquals([first[1].machine_id, first[1].ts, first[1].attempts], ["mill-01", 1, 0]);
    const second = b.claimRaw(1000);
    b.ack(second.map((r) => r.id)); // the later batch first
    b.ack(first.slice(0, 10).map((r) => r.id)); // then part of the first
    b.nack(first.slice(10).map((r) => r.id));
    assertEquals([b.stats().queued, b.stats().in_flight], [1990, 0]);
    assertEquals(b.claim(2000).map((r) => r.ts), [...range(10, 1000), ...range(2000, 3000)]);
    assert(b.pageCount() >= full, "no vacuum while most of the file is still queued");
    b.ack(rs.map((r) => r.id)); // ids not in flight are ignored
    assertEquals([b.stats().queued, b.stats().in_flight], [0, 0]);
    assert(b.pageCount() < full / 10, `space not returned: ${b.pageCount()} of ${full} pages`);
    await b.close();
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
