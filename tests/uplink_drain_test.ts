/**
 * `simco-agent drain` through the real CLI against the real ingest: on its own (ignoring the backoff
 * schedule), with a timeout, with a refused key, and while another process runs the uploader on the same
 * data dir (drain request; never two uploaders).
 */
import { join } from "node:path";
import { readBufferStats } from "../src/buffer/mod.ts";
import { startIngest } from "../src/ingest/mod.ts";
import { writeDrainRequest } from "../src/uplink/drain_request.ts";
import { readStatusDocument } from "../src/datadir/status_file.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import {
  harness,
  keyFile,
  openBuffer,
  seed,
  uplinkFor,
  waitForLine,
  writeConfig,
} from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

const left = (data: string) => {
  const s = readBufferStats(data)!;
  return s.queued + s.in_flight;
};

async function plant(n: number, maxBackoff: string, key = "k") {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "k" });
  const data = join(dir.path, "data");
  const buffer = openBuffer(data);
  await seed(buffer, n);
  await buffer.close();
  keyFile(dir.path, key);
  const cfg = writeConfig(dir.path, ingest.url, { maxBackoff });
  return {
    dir,
    ingest,
    data,
    cfg,
    async close() {
      await ingest.close();
      await dir.cleanup();
    },
  };
}

Deno.test("drain on its own ignores the backoff schedule, shows progress lines, exits 0 when empty", async () => {
  const p = await plant(3000, "5m");
  try {
    // Without drain these 4 failures would cost 2+4+8+16 s of backoff.
    p.ingest.inject({ kind: "fail", count: 4, status: 503 });
    const t0 = Date.now();
    const r = await runCli(["drain", "--config", p.cfg]);
    const took = Date.now() - t0;
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "drain: done, 3000 records sent, buffer empty");
    assertMatch(r.stderr, /drain: 0 sent {2}3,000 left {2}0 rec\/s {2}ETA \?/);
    assertMatch(r.stderr, /drain: 3,000 sent {2}0 left .* ETA 0s/);
    assert(took < 15_000, `drain took ${took} ms`);
    assertEquals(p.ingest.counts().unique, 3000);
    assertEquals(left(p.data), 0);
  } finally {
    await p.close();
  }
});

Deno.test("drain stops with the number left: on timeout (exit 1) and when the key is refused (exit 1)", async () => {
  const p = await plant(500, "1s");
  const bad = await plant(300, "1s", "not-the-key-77");
  try {
    p.ingest.inject({ kind: "fail", count: 100_000, status: 503 });
    const r = await runCli(["drain", "--config", p.cfg, "--timeout", "1500ms"]);
    assertEquals(r.code, 1, r.stderr);
    assertMatch(
      r.stderr,
      /simco-agent drain: error: stopped with 500 records left: timed out after \d+ s/,
    );
    assertEquals(left(p.data), 500);
    const k = await runCli(["drain", "--config", bad.cfg]);
    assertEquals(k.code, 1, k.stderr);
    assertMatch(k.stderr, /stopped with 300 records left: HTTP 401: the api key was refused/);
    assert(!k.stderr.includes("not-the-key-77"), "api key leaked");
    assertEquals(readBufferStats(bad.data)!.dead_letter, 0);
    const bad2 = await runCli(["drain", "--config", p.cfg, "--timeout", "soon"]);
    assertEquals(bad2.code, 2);
    assertStringIncludes(bad2.stderr, '--timeout: expected a duration such as 30s or 10m, got "soon"');
  } finally {
    await p.close();
    await bad.close();
  }
});

Deno.test("drain while another process uploads: it asks that uploader to skip its backoff; one uploader only", async () => {
  const p = await plant(2000, "1m");
  const opts = JSON.stringify({
    agentId: "agent-run",
    uplink: uplinkFor(p.ingest.url, join(p.dir.path, "api.key"), { batchSize: 200, maxBackoffMs: 60_000 }),
  });
  // The stand-in for `run` holds the data dir and backs off: after 3 failures its next wait is 8-9 s.
  p.ingest.inject({ kind: "fail", count: 6, status: 503 });
  const run = harness(["run", p.data, opts], "piped");
  try {
    assert(await waitForLine(run, "running"));
    await waitFor("the runner's first failures", 10_000, () => p.ingest.requests().length >= 2);
    // export reads a snapshot beside the running uploader (it claims nothing, so it cannot disturb it).
    const ex = await runCli(["export", "--config", p.cfg, "--out", join(p.dir.path, "x.simco")]);
    assertEquals(ex.code, 0, ex.stderr);
    assertStringIncludes(ex.stderr, `simco-agent run (pid ${run.pid}) is active`);
    const t0 = Date.now();
    const r = await runCli(["drain", "--config", p.cfg, "--timeout", "30s"]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, `simco-agent run (pid ${run.pid}) holds`);
    assertStringIncludes(r.stdout, "buffer empty");
    assert(Date.now() - t0 < 8_000, `drain waited for the backoff schedule (${Date.now() - t0} ms)`);
    assertEquals(p.ingest.counts().unique, 2000);
    assertEquals(left(p.data), 0);
  } finally {
    await run.stdin.close();
    const status = await run.status;
    await run.stderr.cancel();
    assertEquals(status.code, 0);
    await p.close();
  }
});

Deno.test("a running uploader serving a drain request on an idle buffer stays responsive (no busy loop)", async () => {
  const p = await plant(50, "1s");
  const opts = JSON.stringify({
    agentId: "agent-run",
    uplink: uplinkFor(p.ingest.url, join(p.dir.path, "api.key")),
  });
  const run = harness(["run", p.data, opts], "piped");
  try {
    assert(await waitForLine(run, "running"));
    await waitFor("the runner uploads the 50 records", 10_000, () => left(p.data) === 0);
    // Keep a drain request alive (heartbeat) with nothing to send, then ask the runner to stop meanwhile.
    const beat = () =>
      writeDrainRequest(p.data, { id: "idle-drain", pid: Deno.pid, heartbeat_ts: Date.now() });
    beat();
    const heart = setInterval(beat, 200);
    let status: Deno.CommandStatus;
    try {
      await waitFor(
        "drain done on an empty buffer",
        5_000,
        () => readStatusDocument(p.data)?.uplink.drain?.done === true,
      );
      assertEquals(readStatusDocument(p.data)?.uplink.drain, {
        request_id: "idle-drain",
        done: true,
        sent: 0,
        problem: null,
      });
      await new Promise((r) => setTimeout(r, 500));
      await run.stdin.close();
      const timer = setTimeout(() => run.kill("SIGKILL"), 4_000);
      status = await run.status;
      clearTimeout(timer);
    } finally {
      clearInterval(heart);
    }
    assertEquals(status.code, 0, "the runner did not stop within 4 s of being asked");
  } finally {
    await run.stderr.cancel();
    await p.close();
  }
});
