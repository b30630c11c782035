/**
 * `simco-agent dead-letters list|requeue|purge` end to end: the real CLI as a subprocess on a real buffer.db
 * named by a temp machines.toml.
 */
import { join } from "node:path";
import { readBufferStats, TelemetryBuffer } from "../src/buffer/mod.ts";
import { assertEquals, assertStringIncludes } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import { rec } from "./helpers/buffer_util.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { holdDataDir } from "./helpers/deno_script.ts";

const CONFIG = `[agent]\nid = "cell3"\ndata_dir = "data"\n\n[[machines]]\nid = "m1"\ndriver = "simulator"\n`;

async function deadLetter(dataDir: string, reasons: string[]): Promise<string[]> {
  const b = TelemetryBuffer.open(dataDir, { maxRecords: 1000, whenFull: "drop_oldest" });
  try {
    await Promise.all(reasons.map((_, i) => b.enqueue(rec(1_795_000_000_000 + i * 1000))));
    const c = b.claim(reasons.length);
    b.deadLetter(c.map((r, i) => ({ id: r.id, reason: reasons[i] })));
    return c.map((r) => r.id);
  } finally {
    await b.close();
  }
}

Deno.test("dead-letters CLI: list, purge needs --yes, requeue and purge refuse while an agent runs", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "machines.toml"), CONFIG);
    const data = join(dir, "data");
    const cli = (...a: string[]) => runCli(["dead-letters", ...a, "--config", "machines.toml"], { cwd: dir });

    const empty = await cli("list");
    assertEquals([empty.code, empty.stdout.trim()], [0, "0 dead letters"]);

    const ids = await deadLetter(data, ["metrics.temp: expected a number", "machine unknown"]);
    const list = await cli("list");
    assertEquals(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split("\n");
    assertEquals(lines.length, 3);
    assertStringIncludes(lines[0], ids[0]);
    assertStringIncludes(lines[0], "reason: metrics.temp: expected a number");
    assertStringIncludes(lines[0], "ts=2026-11-18T");
    assertStringIncludes(lines[1], ids[1]);
    assertEquals(lines[2], "2 dead letters");

    const refused = await cli("purge");
    assertEquals(refused.code, 2);
    assertStringIncludes(
      refused.stderr,
      "simco-agent dead-letters: purge deletes 2 dead letters for good: expected --yes to confirm, got no --yes",
    );
    assertEquals(refused.stderr.includes("    at "), false, "stack trace printed");
    assertEquals(readBufferStats(data)!.dead_letter, 2);

    // While an agent holds the data dir: list still works, requeue is refused with the holder's pid.
    const holder = await holdDataDir(data);
    try {
      assertEquals((await cli("list")).code, 0);
      const busy = await cli("requeue");
      assertEquals(busy.code, 3);
      assertStringIncludes(busy.stderr, `another simco-agent (pid ${holder.pid}) is using ${data}`);
    } finally {
      await holder.release();
    }

    const requeued = await cli("requeue");
    assertEquals([requeued.code, requeued.stdout.trim()], [
      0,
      "requeued 2 dead letters: the next run or drain uploads them again",
    ]);
    const s = readBufferStats(data)!;
    assertEquals([s.queued, s.dead_letter], [2, 0]);

    await deadLetter(data, ["again", "again", "again"]); // two of them are the requeued ones, deduplicated
    const purged = await cli("purge", "--yes");
    assertEquals([purged.code, purged.stdout.trim()], [0, "purged 3 dead letters"]);
    assertEquals(readBufferStats(data)!.dead_letter, 0);
  });
});
