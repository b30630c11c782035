/**
 * kill -9 of an uploading agent process at 20 random moments, then a restart that finishes: the ingest
 * holds every record exactly once (unique count = records produced, none missing), and the buffer is empty.
 * The agent process is tests/processes/uplink_harness.ts (buffer + Uploader.runLoop, as `run` wires them).
 */
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { harness, keyFile, openBuffer, seed, uplinkFor, waitForLine } from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { seededRandom as prng } from "../drivers/simulator/random.ts";

Deno.test("kill -9 mid-upload at 20 random moments, restart: every record arrives exactly once", async () => {
  const seedValue = Date.now() % 100_000;
  const random = prng(seedValue);
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "k" });
  const data = join(dir.path, "data");
  try {
    const N = 4000;
    const buffer = openBuffer(data);
    const recs = await seed(buffer, N);
    await buffer.close();
    // ~80 requests of 50 records, each held 15 ms by the server: uploading takes well over a second.
    ingest.inject({ kind: "delay", ms: 15 });
    const opts = JSON.stringify({
      agentId: "agent-kill",
      uplink: uplinkFor(ingest.url, keyFile(dir.path, "k"), { batchSize: 50 }),
    });
    let killedMidUpload = 0;
    for (let i = 0; i < 20; i++) {
      const child = harness(["upload", data, opts]);
      assert(await waitForLine(child, "uploading"), "harness did not start");
      await new Promise((r) => setTimeout(r, Math.floor(random() * 120)));
      const before = ingest.counts().unique;
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited by itself (nothing left to upload)
      }
      const status = await child.status;
      await child.stderr.cancel();
      if (status.signal === "SIGKILL" && before < N) killedMidUpload++;
    }
    const last = harness(["upload", data, opts]);
    const [status, err] = await Promise.all([last.status, new Response(last.stderr).text()]);
    await last.stdout.cancel();
    assertEquals(status.code, 0, err);
    const c = ingest.counts();
    assertEquals(c.unique, N, `seed ${seedValue}`);
    assertEquals(new Set(ingest.ids()), new Set(recs.map((r) => r.id)), `seed ${seedValue}`);
    assert(
      killedMidUpload >= 15,
      `only ${killedMidUpload} of 20 kills hit a running upload (seed ${seedValue})`,
    );
    const after = openBuffer(data);
    const s = after.stats();
    await after.close();
    assertEquals([s.queued, s.in_flight, s.dead_letter], [0, 0, 0]);
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});
