/**
 * Field bugs of `drain` and the uploader of a real `run` (issue 13), each reproduced with real processes and
 * the real ingest: a drain request forces a retry after an auth error with the key file re-read; drain
 * through `run` reports what was sent; a poison record alone at the head of the queue at startup becomes a
 * dead letter instead of stopping uploads for `max_backoff`; drain says (and exits 4) when records became
 * dead letters.
 */
import { join } from "node:path";
import { readBufferStats } from "../src/buffer/mod.ts";
import { type Ingest, startIngest } from "../src/ingest/mod.ts";
import type { IdentifiedRecord } from "../src/record/mod.ts";
import { readStatusDocument } from "../src/datadir/status_file.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { type CliProcess, runCli, spawnCli } from "./helpers/cli.ts";
import { keyFile, openBuffer, seed, writeConfig } from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

const KEY = "the-right-key-4711";

interface Site {
  readonly dir: string;
  readonly data: string;
  readonly cfg: string;
  readonly ingest: Ingest;
  readonly records: IdentifiedRecord[];
  run(): CliProcess;
  close(): Promise<void>;
}

/** A plant folder: `n` records already buffered, a key file holding `key`, max_backoff 5 min. */
async function site(n: number, key = KEY): Promise<Site> {
  const dir = await tempDir("simco-fixes-");
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: KEY });
  const data = join(dir.path, "data");
  const buffer = openBuffer(data);
  const records = await seed(buffer, n);
  await buffer.close();
  keyFile(dir.path, key);
  const cfg = writeConfig(dir.path, ingest.url, { maxBackoff: "5m" });
  const runs: CliProcess[] = [];
  return {
    dir: dir.path,
    data,
    cfg,
    ingest,
    records,
    run() {
      const p = spawnCli(["run", "--config", cfg], { cwd: dir.path });
      runs.push(p);
      return p;
    },
    async close() {
      for (const r of runs) {
        try {
          r.child.kill("SIGKILL");
        } catch { /* exited */ }
        await r.status;
      }
      await ingest.close();
      await dir.cleanup();
    },
  };
}

const sentBy = (stdout: string) => Number(/drain: done, (\d+) records? sent/.exec(stdout)?.[1] ?? NaN);

Deno.test("drain through run after a refused key: retries now with the fixed key file, reports what was sent", async () => {
  const s = await site(94, "a-wrong-key-0000");
  try {
    const run = s.run();
    await waitFor("run's first 401", 30_000, () => readStatusDocument(s.data)?.uplink.state === "auth_error");
    keyFile(s.dir, KEY); // fixed while run waits out max_backoff (5 min)
    const t0 = Date.now();
    const r = await runCli(["drain", "--config", s.cfg, "--timeout", "60s"], { cwd: s.dir });
    assertEquals(r.code, 0, r.stderr + run.stderr());
    assertStringIncludes(r.stderr, `simco-agent run (pid ${run.pid}) holds`);
    const sent = sentBy(r.stdout);
    assert(sent >= 94, `drain reported ${sent} sent: ${r.stdout}`);
    assert(sent <= s.ingest.counts().unique, `reported ${sent}, ingest has ${s.ingest.counts().unique}`);
    assert(Date.now() - t0 < 60_000);
  } finally {
    await s.close();
  }
});

Deno.test("drain through run reports the records the running uploader sent for it, not 0", async () => {
  const s = await site(94);
  try {
    s.ingest.inject({ kind: "fail", count: 2, status: 503 });
    const run = s.run();
    await waitFor("run's first failures", 30_000, () => s.ingest.counts().requests >= 2);
    const r = await runCli(["drain", "--config", s.cfg, "--timeout", "60s"], { cwd: s.dir });
    assertEquals(r.code, 0, r.stderr + run.stderr());
    const sent = sentBy(r.stdout);
    assert(sent >= 94, `drain reported ${sent} sent: ${r.stdout}`);
    assert(sent <= s.ingest.counts().unique, `reported ${sent}, ingest has ${s.ingest.counts().unique}`);
  } finally {
    await s.close();
  }
});

Deno.test("a poison record alone at the head of the queue at startup becomes a dead letter, uploads go on", async () => {
  const s = await site(1); // e.g. after `dead-letters requeue`: only the poison is queued when run starts
  try {
    s.ingest.inject({ kind: "reject_id", id: s.records[0].id, reason: "unknown machine" });
    const run = s.run();
    await waitFor(
      "the poison record dead-lettered and newer records delivered (max_backoff is 5 min)",
      45_000,
      () => (readBufferStats(s.data)?.dead_letter ?? 0) === 1 && s.ingest.counts().unique >= 3,
    );
    assert(!run.stderr().includes("the endpoint refuses the data"), run.stderr());
    assertStringIncludes(run.stderr(), `record ${s.records[0].id} moved to dead letters`);
    assert(!s.ingest.ids().includes(s.records[0].id));
  } finally {
    await s.close();
  }
});

Deno.test("drain says how many records became dead letters and exits 4", async () => {
  const s = await site(4);
  try {
    s.ingest.inject({ kind: "reject_id", id: s.records[1].id, reason: "bad metrics" });
    const r = await runCli(["drain", "--config", s.cfg], { cwd: s.dir });
    assertEquals(r.code, 4, r.stderr);
    assertMatch(
      r.stdout,
      /drain: done, 3 records sent, buffer empty; 1 record rejected by the cloud moved to dead letters/,
    );
    assertStringIncludes(r.stderr, "1 record became dead letters");
    assertEquals(readBufferStats(s.data)?.dead_letter, 1);
  } finally {
    await s.close();
  }
});
