/**
 * A real full file system: the data dir is a 2 MiB tmpfs, filled by the buffer itself. Needs Linux and the
 * right to mount (root); elsewhere the test is skipped, and the max_page_count test in
 * buffer_failure_test.ts covers the same path everywhere.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { TelemetryBuffer } from "../src/buffer/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { rec } from "./helpers/buffer_util.ts";
import { RecordingLog } from "./helpers/log.ts";
import { waitFor } from "./helpers/wait.ts";
import { canMountTmpfs, mount, unmount } from "./helpers/tmpfs.ts";

Deno.test({
  name: "buffer: a really full file system (tmpfs) pauses commits and they resume when space returns",
  ignore: !canMountTmpfs(),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "simco-tmpfs-" });
    await mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", root);
    try {
      const ballast = join(root, "ballast");
      await Deno.writeFile(ballast, new Uint8Array(900 * 1024));
      const data = join(root, "data");
      const log = new RecordingLog();
      const b = TelemetryBuffer.open(data, {
        maxRecords: 1_000_000,
        whenFull: "drop_oldest",
        log,
        commitMaxRecords: 200,
        maxPendingRecords: 20_000,
        retryMaxMs: 50,
      });
      const done: Promise<unknown>[] = [];
      let i = 0;
      while (b.stats().storage_error === null && i < 20_000) {
        done.push(b.enqueue(rec(i++)));
        if (i % 200 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      await waitFor("the file system to fill up", 10_000, () => b.stats().storage_error !== null);
      assertEquals(log.at("critical").length, 1);
      assert(b.stats().pending > 0, "nothing waits in memory");
      await Deno.remove(ballast); // space returns
      await Promise.all(done);
      assertEquals(b.stats().storage_error, null);
      assertEquals(b.stats().queued, i);
      assertStringIncludes(log.at("info").join("\n"), "buffer storage works again");
      await b.close();
      const db = new DatabaseSync(join(data, "buffer.db"), { readOnly: true });
      assertEquals(Object.values(db.prepare("PRAGMA quick_check").get() as object)[0], "ok");
      assertEquals((db.prepare("SELECT count(*) AS n FROM telemetry_buffer").get() as { n: number }).n, i);
      db.close();
    } finally {
      await unmount(root);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "buffer: opening on a full file system does not fail; the buffer opens itself when space returns",
  ignore: !canMountTmpfs(),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "simco-tmpfs-" });
    await mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", root);
    try {
      const data = join(root, "data");
      const quiet = new RecordingLog();
      const first = TelemetryBuffer.open(data, { maxRecords: 1000, whenFull: "drop_oldest", log: quiet });
      await Promise.all(Array.from({ length: 100 }, (_, i) => first.enqueue(rec(i))));
      first.claim(10); // left in flight: stale at the next open
      await first.close();
      // Fill the file system to the last byte.
      const ballast = await Deno.open(join(root, "ballast"), { write: true, create: true });
      const chunk = new Uint8Array(4096);
      try {
        for (;;) await ballast.write(chunk);
      } catch { /* ENOSPC */ }
      ballast.close();
      const log = new RecordingLog();
      const b = TelemetryBuffer.open(data, {
        maxRecords: 1000,
        whenFull: "drop_oldest",
        log,
        retryMaxMs: 50,
      });
      try {
        const late = Array.from({ length: 5 }, (_, i) => b.enqueue(rec(1000 + i)));
        await waitFor("the storage error", 10_000, () => b.stats().storage_error !== null);
        assertEquals(log.at("critical").length, 1, log.text());
        await Deno.remove(join(root, "ballast"));
        await Promise.all(late);
        assertEquals(b.stats().storage_error, null);
        assertEquals([b.stats().queued, b.stats().in_flight], [105, 0]);
        assertEquals(b.claim(1000).length, 105);
      } finally {
        await b.close();
      }
    } finally {
      await unmount(root);
      await Deno.remove(root, { recursive: true });
    }
  },
});
