/** The buffer under failure: full disk, damaged files, and a data directory another process holds. */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { recordId } from "../src/record/mod.ts";
import {
  acquireDataDirLock,
  BufferUnavailableError,
  DataDirLockedError,
  lockHolder,
  TelemetryBuffer,
} from "../src/buffer/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";
import { rec } from "./helpers/buffer_util.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { RecordingLog } from "./helpers/log.ts";
import { waitFor } from "./helpers/wait.ts";
import { denoScriptArgs } from "./helpers/deno_script.ts";

const OPTS = { maxRecords: 100_000, whenFull: "drop_oldest" } as const;

Deno.test("buffer: disk full keeps records in memory (bounded), CRITICAL once, recovers by itself", async () => {
  await withTempDir(async (dir) => {
    const log = new RecordingLog();
    const b = TelemetryBuffer.open(dir, {
      ...OPTS,
      log,
      commitMaxRecords: 100,
      maxPendingRecords: 300,
      retryMaxMs: 50,
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => b.enqueue(rec(i))));
    b.setMaxPageCount(b.pageCount()); // the "disk" is full from now on
    const settled: boolean[] = [];
    const waiting = Array.from(
      { length: 300 },
      (_, i) => b.enqueue(rec(1000 + i)).then((r) => settled.push(r.inserted)),
    );
    await waitFor("the storage error to be noticed", 10_000, () => b.stats().storage_error !== null);
    assertStringIncludes(b.stats().storage_error!, "full");
    // Bounded: past maxPendingRecords the buffer refuses (the caller knows), and says it has no room.
    await assertRejects(
      () => b.enqueue(rec(5000)),
      BufferUnavailableError,
      "300 records already wait in memory",
    );
    assertEquals(b.hasRoom(), false);
    assertEquals(b.stats().pending, 300);
    assertEquals(settled.length, 0, "a record was reported buffered while the disk was full");
    // The agent keeps working: claims and acks of committed records still go through.
    const c = b.claim(10);
    assertEquals(c.length, 10);
    b.ack(c.map((r) => r.id));
    await new Promise((r) => setTimeout(r, 200)); // several retries fail meanwhile
    assertEquals(log.at("critical").length, 1, log.at("critical").join("\n"));
    b.setMaxPageCount(null); // space returns
    await Promise.all(waiting);
    assertEquals(settled.length, 300);
    assertEquals(b.stats().storage_error, null);
    assertEquals(b.stats().queued, 340);
    assert(b.hasRoom());
    assertStringIncludes(log.at("info").join("\n"), "buffer storage works again");
    assertEquals(log.at("critical").length, 1);
    await b.close();
    const b2 = TelemetryBuffer.open(dir, OPTS);
    assertEquals(b2.stats().queued, 340);
    await b2.close();
  });
});

Deno.test("buffer: closing while the disk is still full rejects the waiting records and says so", async () => {
  await withTempDir(async (dir) => {
    const log = new RecordingLog();
    const b = TelemetryBuffer.open(dir, { ...OPTS, log, commitMaxRecords: 10 });
    await b.enqueue(rec(1));
    b.setMaxPageCount(b.pageCount());
    const outcomes = Array.from({ length: 40 }, (_, i) => b.enqueue(rec(100 + i)).then(() => null, (e) => e));
    await waitFor("the storage error", 10_000, () => b.stats().storage_error !== null);
    await b.close();
    const results = await Promise.all(outcomes);
    const rejected = results.filter((e) => e !== null);
    for (const e of rejected) assert(e instanceof BufferUnavailableError, String(e));
    assert(rejected.length > 0, "no record was waiting at close");
    assertStringIncludes(log.at("error").join("\n"), `${rejected.length} records were not buffered`);
    // Those that resolved are in the file; those rejected are not.
    const b2 = TelemetryBuffer.open(dir, OPTS);
    assertEquals(b2.stats().queued, 1 + results.length - rejected.length);
    await b2.close();
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function damage(path: string, offset: number, length: number): void {
  const f = Deno.openSync(path, { read: true, write: true });
  try {
    f.seekSync(offset, Deno.SeekMode.Start);
    const junk = new Uint8Array(length);
    for (let i = 0; i < length; i++) junk[i] = (i * 131 + 7) & 0xff;
    f.writeSync(junk);
  } finally {
    f.close();
  }
}

Deno.test("buffer: a file that is not a database is moved aside; a fresh buffer goes on", async () => {
  await withTempDir(async (dir) => {
    const b = TelemetryBuffer.open(dir, OPTS);
    await Promise.all([1, 2, 3].map((t) => b.enqueue(rec(t))));
    await b.close();
    damage(join(dir, "buffer.db"), 0, 100);
    const log = new RecordingLog();
    const b2 = TelemetryBuffer.open(dir, { ...OPTS, log, now: () => Date.UTC(2026, 10, 27, 21, 5, 9) });
    const moved = join(dir, "buffer.db.corrupt-20261127T210509Z");
    assert(Deno.statSync(moved).isFile);
    const crit = log.at("critical");
    assertEquals(crit.length, 1);
    assertStringIncludes(crit[0], moved);
    assertEquals(b2.stats().queued, 0);
    await b2.enqueue(rec(9));
    assertEquals(b2.claim(5).map((r) => r.ts), [9]);
    await b2.close();
  });
});

for (const quickCheck of ["background", "blocking"] as const) {
  Deno.test(`buffer: damaged pages are moved aside and every readable record is salvaged (${quickCheck} check)`, async () => {
    await withTempDir(async (dir) => {
      const b = TelemetryBuffer.open(dir, OPTS);
      const originals = new Map<string, number>();
      for (let i = 0; i < 4000; i++) {
        const r = rec(i);
        originals.set(r.id, r.ts);
        void b.enqueue(r);
      }
      await b.flush();
      b.deadLetter(b.claim(3).map((r) => ({ id: r.id, reason: "rejected" })));
      await b.close();
      const path = join(dir, "buffer.db");
      // Damage two table pages (they hold the metrics text; index pages do not), which open itself does not
      // read: only quick_check finds them.
      const bytes = Deno.readFileSync(path);
      const marker = new TextEncoder().encode("O1234-PART-A");
      const tablePages: number[] = [];
      for (let p = 1; p * 4096 < bytes.length; p++) {
        const page = bytes.subarray(p * 4096, (p + 1) * 4096);
        if (indexOf(page, marker) >= 0) tablePages.push(p);
      }
      const mid = Math.floor(tablePages.length / 2);
      for (const p of tablePages.slice(mid, mid + 2)) damage(path, p * 4096, 64);
      const log = new RecordingLog();
      const b2 = TelemetryBuffer.open(dir, { ...OPTS, log, quickCheck });
      try {
        // Found by quick_check: inside open, or reported by the worker shortly after.
        await waitFor("the damage to be found", 10_000, () => log.at("critical").length > 0);
        const crit = log.at("critical").join("\n");
        assertEquals(log.at("critical").length, 1, crit);
        assertStringIncludes(crit, "quick_check");
        assertMatch(crit, /moved it to .*buffer\.db\.corrupt-\d{8}T\d{6}Z, salvaged (\d+) records/);
        const salvaged = Number(/salvaged (\d+) records/.exec(crit)![1]);
        const got = b2.claim(10_000);
        assertEquals(got.length, salvaged);
        assert(salvaged > 3000 && salvaged < 3997, `salvaged ${salvaged} of 3997`);
        for (const r of got) {
          assertEquals(originals.get(r.id), r.ts, "salvage invented a record");
          assertEquals(recordId(r), r.id);
        }
        assertEquals(new Set(got.map((r) => r.id)).size, got.length);
        assertEquals(b2.stats().dead_letter, 3);
      } finally {
        await b2.close();
      }
      const fresh = new DatabaseSync(path, { readOnly: true });
      assertEquals(Object.values(fresh.prepare("PRAGMA quick_check").get() as object)[0], "ok");
      fresh.close();
    });
  });
}

async function spawnHelper(mode: "hold" | "try", dir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoScriptArgs(new URL("./processes/buffer_lock_holder.ts", import.meta.url), mode, dir),
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return { child, line: new TextDecoder().decode(value).trim() };
}

Deno.test("buffer: one agent per data dir; a kill -9'd holder does not block the next", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "data");
    const holder = await spawnHelper("hold", dir);
    try {
      assertEquals(holder.line, "locked");
      assertEquals(lockHolder(dir), holder.child.pid);
      const msg = `another simco-agent (pid ${holder.child.pid}) is using ${dir}`;
      const other = await spawnHelper("try", dir);
      await other.child.stdout.cancel();
      await other.child.status;
      assertEquals(other.line, msg);
      const e = assertThrows(() => acquireDataDirLock(dir), DataDirLockedError);
      assertEquals(e.message, msg);
      assertEquals(e.pid, holder.child.pid);
    } finally {
      holder.child.kill("SIGKILL");
      await holder.child.stdout.cancel();
      await holder.child.status;
    }
    assertEquals(lockHolder(dir), null);
    const lock = acquireDataDirLock(dir);
    assertEquals(lockHolder(dir), Deno.pid);
    lock.release();
    assertEquals(lockHolder(dir), null);
  });
});
