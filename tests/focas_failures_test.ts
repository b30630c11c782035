/**
 * The fake FOCAS2 library misbehaving in real worker processes: a call that blocks forever is killed at the
 * poll timeout while another FOCAS machine keeps polling; a NULL dereference (real SIGSEGV) kills only its own
 * worker; a library that leaks on every call is recycled at the memory cap; EW_SOCKET in a connection frees the
 * handle and the next poll reconnects (the driver in this process, through real FFI).
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { FAKE_FOCAS, focasMachine, readCalls, writeControl } from "./helpers/focas_fake.ts";
import { RecordingLog } from "./helpers/log.ts";
import { isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { MachineWorker, type PollOutcome } from "../src/sandbox/mod.ts";
import type { Metrics } from "../src/record/mod.ts";
import { createDriver } from "../drivers/focas/mod.ts";

const ignore = Deno.build.os !== "linux";
if (ignore) {
  console.log("focas failure tests skipped: the fake FOCAS2 library is built and checked on Linux only");
}

const BASE = { run: 1, aut: 1, speed: 800, parts: 5, parts_total: 9 };

function expectFail(o: PollOutcome, cause: string, text: string | RegExp): void {
  assert(o.kind === "fail", `expected a ${cause} failure, got ${JSON.stringify(o)}`);
  assertEquals(o.cause, cause, o.message);
  if (typeof text === "string") assertStringIncludes(o.message, text);
  else assertMatch(o.message, text);
}

/** Two FOCAS machines, each with its own scratch folder; `run` gets them and cleans up after. */
async function twoMachines(
  bad: Record<string, string | number>,
  run: (bad: MachineWorker, good: MachineWorker, dirs: string[]) => Promise<void>,
  badTimeoutMs = 1500,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "simco-focas-fail-" });
  const dirs = [join(root, "bad"), join(root, "good")];
  await writeControl(dirs[0], { ...BASE, ...bad });
  await writeControl(dirs[1], BASE);
  const log = new RecordingLog();
  const b = new MachineWorker(focasMachine("fanuc-bad", { timeoutMs: badTimeoutMs }), {
    log,
    workDir: dirs[0],
    graceMs: 300,
  });
  const g = new MachineWorker(focasMachine("fanuc-good"), { log, workDir: dirs[1] });
  try {
    await run(b, g, dirs);
  } finally {
    await Promise.all([b.close(), g.close()]);
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test({
  name: "focas: cnc_statinfo blocking forever is killed at the timeout; the other machine polls on",
  ignore,
}, async () => {
  await twoMachines({ "misbehave.cnc_statinfo": "block" }, async (bad, good, dirs) => {
    assert((await good.poll()).kind === "ok");
    const t0 = performance.now();
    const hung = bad.poll().then((o) => ({ o, at: performance.now() - t0 }));
    const during: PollOutcome[] = [];
    let badPid: number | null = null;
    // The good machine polls every 200 ms while the other one's FFI call blocks and is killed.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200));
      badPid ??= bad.pid;
      during.push(await good.poll());
    }
    const { o, at } = await hung;
    expectFail(o, "timeout", "poll did not answer within 1500 ms");
    assert(at >= 1500, `killed after ${at} ms, before the timeout`);
    assertEquals(during.filter((x) => x.kind !== "ok"), []);
    assert(badPid !== null);
    await waitFor(`blocked worker ${badPid} to be gone`, 3000, () => !isAlive(badPid!));
    // The fake really was inside the blocking call.
    assertStringIncludes(
      readCalls(dirs[0]).map((c) => `${c.fn} ${c.extra}`).join("\n"),
      "cnc_statinfo misbehave=block",
    );
  });
});

Deno.test({ name: "focas: cnc_rdspeed dereferencing NULL kills only its own worker", ignore }, async () => {
  await twoMachines({ "misbehave.cnc_rdspeed": "segv" }, async (bad, good) => {
    assert((await good.poll()).kind === "ok");
    const goodPid = good.pid;
    expectFail(await bad.poll(), "crash", "SIGSEGV");
    assertEquals(bad.pid, null);
    const after = await good.poll();
    assert(after.kind === "ok", JSON.stringify(after));
    assertEquals(good.pid, goodPid);
    assert(isAlive(goodPid!));
  });
});

Deno.test(
  { name: "focas: a library leaking on every call is recycled at max_memory_mb", ignore },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "simco-focas-leak-" });
    await writeControl(dir, { ...BASE, leak_kb: 4096 }); // 4 MiB per call, 9 calls a poll
    const log = new RecordingLog();
    const w = new MachineWorker(focasMachine("fanuc-leak", { maxMemoryMb: 160 }), {
      log,
      workDir: dir,
      graceMs: 300,
    });
    try {
      let recycledAt = -1;
      for (let i = 0; i < 15 && recycledAt < 0; i++) {
        const out = await w.poll();
        assert(out.kind === "ok", JSON.stringify(out));
        if (out.recycled === "memory") recycledAt = i;
      }
      assert(recycledAt >= 1, `expected a memory recycle after a few polls, got ${recycledAt}`);
      assertMatch(log.text(), /recycled \(memory\): resident memory \d+\.\d MiB is above max_memory_mb 160/);
      assert((await w.poll()).kind === "ok");
      assertEquals([w.stats.recycles.memory, w.stats.spawns], [1, 2]);
      // The retired worker was closed politely: its handle was freed before it went.
      await w.close();
      const calls = readCalls(dir);
      const connects = calls.filter((c) => c.fn === "cnc_allclibhndl3").length;
      assertEquals(calls.filter((c) => c.fn === "cnc_freelibhndl" && c.rc === 0).length, connects);
    } finally {
      await w.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test({
  name: "focas driver: EW_SOCKET in a connection frees the handle; the next poll reconnects",
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "simco-focas-sock-" });
  await writeControl(dir, BASE);
  const d = createDriver();
  const ctx = { machineId: "fanuc-sock", host: "127.0.0.1", port: 8193, timeoutMs: 2000, workDir: dir };
  try {
    await d.init({ library: FAKE_FOCAS, encoding: "latin1", startup_log_level: 1 }, ctx);
    assertEquals(((await d.poll()) as Metrics).part_count, 5);
    await writeControl(dir, { ...BASE, "rc.cnc_rdparam": -16 });
    let err: unknown = null;
    await d.poll().catch((e) => err = e);
    assertMatch(String(err), /cnc_rdparam\(6711\): EW_SOCKET \(-16\): socket error/);
    await writeControl(dir, BASE);
    const again = (await d.poll()) as Metrics; // a plain reading: focas returns no ReadingBatch
    assertEquals([again.part_count, (again.cnc as Record<string, unknown>).series], [5, "D4F1"]);
    const seq = readCalls(dir).map((c) => `${c.fn} ${c.handle} ${c.open}`);
    const free = seq.indexOf("cnc_freelibhndl 1 0");
    assert(free > 0, seq.join("\n"));
    assertEquals(seq[free + 1], "cnc_allclibhndl3 2 1");
  } finally {
    await d.close?.();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  { name: "focas driver: EW_NODLL on connect says the library is the wrong kind", ignore },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "simco-focas-nodll-" });
    await writeControl(dir, { ...BASE, connect_rc: -15 });
    const d = createDriver();
    const ctx = { machineId: "fanuc-nodll", host: "127.0.0.1", port: 8193, timeoutMs: 2000, workDir: dir };
    try {
      let err: unknown = null;
      await d.init({ library: FAKE_FOCAS }, ctx).catch((e) => err = e);
      assertMatch(String(err), /cnc_allclibhndl3: EW_NODLL \(-15\): .*wrong one for this connection type/);
    } finally {
      await d.close?.();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
