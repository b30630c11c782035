/**
 * The driver cannot lie to the agent: replies it forges on stdout (with a guessed secret and a tiny `rss`) or
 * a second reply it posts itself are protocol failures at once; readings with a `ts` outside the agent's
 * window are refused; memory it allocates while idle and CPU it burns in eight busy nested Web Workers are
 * measured by the agent (/proc) and recycle the worker with cause `memory` / `cpu`. Real worker processes,
 * the probe driver (tests/drivers/sandbox_probe.ts).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { machine, PROBE } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { type FailureCause, MachineWorker, type MachineWorkerOptions } from "../src/sandbox/mod.ts";
import type { MachineConfig } from "../src/config/types.ts";

const LINUX = Deno.build.os === "linux";
if (!LINUX) {
  console.log("sandbox_integrity_test: memory and CPU measurement tests need /proc (Linux); skipped");
}

function probe(
  id: string,
  options: Record<string, unknown>,
  over: Partial<MachineConfig> = {},
  opts: MachineWorkerOptions = {},
): { w: MachineWorker; log: RecordingLog } {
  const log = new RecordingLog();
  const m = machine(id, {
    driver: "__sandbox_probe",
    host: "127.0.0.1",
    port: 9,
    options,
    timeoutMs: 5000,
    ...over,
  });
  return { w: new MachineWorker(m, { log, graceMs: 300, ...PROBE, ...opts }), log };
}

/** Waits until `w` has recycled a process for `cause`, and that process is gone. */
async function recycledFor(w: MachineWorker, cause: FailureCause, pid: number, ms: number): Promise<void> {
  await waitFor(`a ${cause} recycle`, ms, () => w.stats.recycles[cause] >= 1);
  if (LINUX) await waitFor(`process ${pid} to be gone`, 3000, () => !isAlive(pid));
}

Deno.test("a reply the driver forges on stdout (right id, guessed secret, tiny rss) is a protocol failure", async () => {
  const { w, log } = probe("forge-1", { action: "forge" });
  try {
    const out = await w.poll();
    assert(out.kind === "fail", JSON.stringify(out));
    assertEquals(out.cause, "protocol");
    assertStringIncludes(
      out.message,
      "telemetry reply with a wrong secret (written by the driver, not the worker)",
    );
    assertEquals(w.pid, null);
    assertMatch(log.text(), /recycled \(protocol\)/);
    assertEquals(log.text().includes('"forged"'), false);
  } finally {
    await w.close();
  }
});

Deno.test("a second reply to one request (the driver posting to the worker's thread) fails at once, idle", async () => {
  const { w, log } = probe("double-1", { action: "double_reply" });
  try {
    const first = await w.poll();
    // The driver's own post arrives first and is the answer; the real one is the second reply.
    assert(first.kind === "ok", JSON.stringify(first));
    const pid = w.pid!;
    await recycledFor(w, "protocol", pid, 5000); // no further poll needed
    assertStringIncludes(log.text(), "second reply to request");
    assertEquals(w.pid, null);
  } finally {
    await w.close();
  }
});

Deno.test("a reading whose ts is outside the agent's window is refused with the cause", async () => {
  const future = probe("ts-future", { action: "post_ts", ts_offset_ms: 3_600_000 });
  const old = probe("ts-old", { action: "post_ts", ts_offset_ms: -30 * 86_400_000 });
  const backlog = probe("ts-backlog", { action: "post_ts", ts_offset_ms: -6 * 3_600_000 });
  try {
    const f = await future.w.poll();
    assert(f.kind === "fail" && f.cause === "protocol", JSON.stringify(f));
    assertMatch(f.message, /reading refused: ts \S+ is 3600 s ahead of the agent's clock \(at most 60 s/);
    const o = await old.w.poll();
    assert(o.kind === "fail" && o.cause === "protocol", JSON.stringify(o));
    assertMatch(o.message, /reading refused: ts \S+ is 30\.0 days before the agent's clock \(at most 7 days/);
    const b = await backlog.w.poll();
    assert(b.kind === "ok", JSON.stringify(b)); // six hours old: within the window
  } finally {
    await Promise.all([future.w.close(), old.w.close(), backlog.w.close()]);
  }
});

Deno.test({
  name: "memory the driver allocates while idle is measured by the agent and recycles the worker (memory)",
  ignore: !LINUX,
  async fn() {
    const { w, log } = probe("hog-1", { action: "hog", hog_mb: 200 }, { maxMemoryMb: 160 }, {
      monitorMs: 200,
    });
    try {
      assertEquals((await w.poll()).kind, "ok");
      const pid = w.pid!;
      await recycledFor(w, "memory", pid, 10_000);
      assertMatch(
        log.text(),
        /recycled \(memory\): while idle: resident memory \d+\.\d MiB is above max_memory_mb 160/,
      );
      assertEquals((await w.poll()).kind, "ok"); // a fresh worker
      assertEquals(w.stats.spawns, 2);
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "eight busy nested Web Workers: the agent measures the CPU and recycles the worker (cpu)",
  ignore: !LINUX,
  async fn() {
    const { w, log } = probe("busy-1", { action: "busy_workers", workers: 8 }, {}, {
      monitorMs: 250,
      cpuWindowMs: 2000,
    });
    try {
      assertEquals((await w.poll()).kind, "ok");
      const pid = w.pid!;
      await recycledFor(w, "cpu", pid, 20_000);
      assertMatch(
        log.text(),
        /recycled \(cpu\): while idle: CPU \d+ % of one core over the last 2 s is above max_cpu_percent 50/,
      );
    } finally {
      await w.close();
    }
  },
});
