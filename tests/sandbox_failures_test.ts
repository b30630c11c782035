/**
 * Misbehaving drivers in real worker processes: hang (killed within timeout + grace while another machine
 * keeps its schedule), crash, garbage on stdout, SIGSEGV in native code, an uncaught error, non-finite and
 * oversized replies, driver errors, a leak recycled at the memory cap. After every failure the process is
 * gone and the next poll gets a fresh one.
 */
import { assert, assertEquals, assertMatch, assertNotEquals, assertStringIncludes } from "./assert.ts";
import { fixtureLibrary } from "./build_fixtures.ts";
import { machine, PROBE } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { MachineWorker, type PollOutcome } from "../src/sandbox/mod.ts";

const LINUX = Deno.build.os === "linux";
const GRACE = 300;

function expectFail(out: PollOutcome, cause: string, text?: string | RegExp): void {
  assert(out.kind === "fail", `expected a ${cause} failure, got ${JSON.stringify(out)}`);
  assertEquals(out.cause, cause, out.message);
  if (typeof text === "string") assertStringIncludes(out.message, text);
  else if (text) assertMatch(out.message, text);
}

async function expectGone(pid: number | null): Promise<void> {
  assert(pid !== null);
  if (LINUX) await waitFor(`process ${pid} to be gone`, 3000, () => !isAlive(pid));
}

Deno.test("hang: killed within timeout + grace, another machine keeps its schedule", async () => {
  const log = new RecordingLog();
  const hung = new MachineWorker(machine("hang-1", { timeoutMs: 800, options: { behaviour: "hang" } }), {
    log,
    graceMs: GRACE,
  });
  const healthy = new MachineWorker(machine("ok-1"), { log });
  try {
    await healthy.poll(); // started before, so its schedule below measures polls, not a process start
    const t0 = performance.now();
    const hangDone = hung.poll().then((o) => ({ o, at: performance.now() - t0 }));
    let pid: number | null = null;
    const lateness: number[] = [];
    const outcomes: PollOutcome[] = [];
    // The healthy machine polls every 100 ms for 1.5 s while the other one hangs and is killed.
    for (let i = 0; i < 15; i++) {
      const due = t0 + i * 100;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      pid ??= hung.pid;
      lateness.push(performance.now() - due);
      outcomes.push(await healthy.poll());
    }
    const { o, at } = await hangDone;
    expectFail(o, "timeout", "did not answer within 800 ms");
    assert(at >= 800 && at < 800 + 2 * GRACE + 3000, `hang ended after ${at} ms`);
    assertEquals(outcomes.filter((x) => x.kind !== "ok"), []);
    assert(Math.max(...lateness) < 500, `healthy polls were late by up to ${Math.max(...lateness)} ms`);
    await expectGone(pid);
    assertEquals(hung.pid, null);
    assertStringIncludes(log.text(), "machine hang-1: worker pid");
    assertStringIncludes(log.text(), "recycled (timeout)");
  } finally {
    await Promise.all([hung.close(), healthy.close()]);
  }
});

Deno.test("crash: detected with the exit code, next poll gets a fresh process", async () => {
  const w = new MachineWorker(
    machine("crash-1", { options: { behaviour: "crash", misbehave_after: 1 } }),
    { log: new RecordingLog(), graceMs: GRACE },
  );
  try {
    const first = await w.poll();
    assert(first.kind === "ok", JSON.stringify(first));
    const pid = w.pid;
    expectFail(await w.poll(), "crash", "worker exited with code 134");
    await expectGone(pid);
    const third = await w.poll();
    assert(third.kind === "ok", JSON.stringify(third));
    assertNotEquals(w.pid, pid);
    assertEquals(w.stats.spawns, 2);
    assertEquals(w.stats.recycles.crash, 1);
  } finally {
    await w.close();
  }
});

Deno.test("garbage on stdout: protocol failure, recycled", async () => {
  const w = new MachineWorker(
    machine("garbage-1", { options: { behaviour: "garbage", misbehave_after: 1 } }),
    { log: new RecordingLog(), graceMs: GRACE },
  );
  try {
    assertEquals((await w.poll()).kind, "ok");
    const pid = w.pid;
    expectFail(await w.poll(), "protocol", "not JSON");
    await expectGone(pid);
    assertEquals((await w.poll()).kind, "ok");
    assertNotEquals(w.pid, pid);
  } finally {
    await w.close();
  }
});

Deno.test("native crash (SIGSEGV), uncaught error, NaN, oversized reply: each fails and recycles", async () => {
  const cases: [string, string, string | RegExp][] = [
    ["segv", "crash", LINUX ? "worker killed by SIGSEGV" : /worker (killed|exited)/],
    ["uncaught", "crash", "driver worker died: Uncaught Error: probe: uncaught in a timer"],
    ["nonfinite", "protocol", "metrics.spindle_speed: expected a finite number, got NaN"],
    ["huge", "protocol", "reply line longer than 1048576 bytes"],
  ];
  await Promise.all(cases.map(async ([action, cause, text]) => {
    const w = new MachineWorker(
      machine(`probe-${action}`, {
        driver: "__sandbox_probe",
        host: "127.0.0.1",
        port: 9,
        timeoutMs: 5000,
        options: { action, library: fixtureLibrary("sandbox_probe") },
      }),
      { log: new RecordingLog(), graceMs: GRACE, ...PROBE },
    );
    try {
      expectFail(await w.poll(), cause, text);
      assertEquals(w.stats.spawns, 1);
      assertEquals(w.pid, null);
      assertEquals(w.stats.recycles[cause as "crash" | "protocol"], 1);
    } finally {
      await w.close();
    }
  }));
});

Deno.test("flaky and slow drivers: driver errors and timeouts, healthy slow polls pass", async () => {
  const log = new RecordingLog();
  const flaky = new MachineWorker(machine("flaky-1", { options: { behaviour: "flaky", fail_rate: 1 } }), {
    log,
  });
  const slowOk = new MachineWorker(machine("slow-1", { options: { behaviour: "slow", delay: 300 } }), {
    log,
  });
  const slowLate = new MachineWorker(
    machine("slow-2", { timeoutMs: 400, options: { behaviour: "slow", delay: 5000 } }),
    { log, graceMs: GRACE },
  );
  try {
    const [f, s1, s2] = await Promise.all([flaky.poll(), slowOk.poll(), slowLate.poll()]);
    expectFail(f, "driver_error", "Error: simulated communication error (flaky)");
    assert(s1.kind === "ok" && s1.durationMs >= 300, JSON.stringify(s1));
    expectFail(s2, "timeout", "poll did not answer within 400 ms");
  } finally {
    await Promise.all([flaky.close(), slowOk.close(), slowLate.close()]);
  }
});

Deno.test("leak: the worker is recycled once it passes max_memory_mb", async () => {
  const log = new RecordingLog();
  const w = new MachineWorker(
    machine("leak-1", { maxMemoryMb: 160, options: { behaviour: "leak", leak_mb: 40 } }),
    // Measured after each poll only (monitorMs: the periodic measurement would race the polls).
    { log, graceMs: GRACE, monitorMs: 600_000 },
  );
  try {
    let recycledAt = -1;
    let pid: number | null = null;
    for (let i = 0; i < 12 && recycledAt < 0; i++) {
      const out = await w.poll();
      assert(out.kind === "ok", JSON.stringify(out));
      pid = w.pid ?? pid;
      if (out.recycled === "memory") recycledAt = i;
    }
    assert(recycledAt >= 1, `expected a memory recycle after a few polls, got ${recycledAt}`);
    assertMatch(
      log.text(),
      /recycled \(memory\): resident memory \d+\.\d MiB is above max_memory_mb 160/,
    );
    const next = await w.poll();
    assert(next.kind === "ok");
    assertEquals(w.stats.recycles.memory, 1);
    assertEquals(w.stats.spawns, 2);
  } finally {
    await w.close();
  }
});

Deno.test("close: idempotent, ends a hung poll, later polls fail; unknown drivers fail to spawn", async () => {
  const w = new MachineWorker(machine("close-1", { timeoutMs: 30_000, options: { behaviour: "hang" } }), {
    log: new RecordingLog(),
    graceMs: GRACE,
  });
  const pending = w.poll();
  await waitFor("the worker to start", 10_000, () => w.pid !== null);
  const pid = w.pid;
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await Promise.all([w.close(), w.close()]);
  assert(performance.now() - t0 < 2 * GRACE + 3000);
  expectFail(await pending, "crash", "worker closed during the poll");
  await expectGone(pid);
  expectFail(await w.poll(), "spawn", "worker is closed");
  await w.close();

  const unknown = new MachineWorker(machine("nodriver", { driver: "no_such_driver" }), {
    log: new RecordingLog(),
  });
  expectFail(await unknown.poll(), "spawn", 'unknown driver "no_such_driver"');
  assertEquals(unknown.pid, null);
  await unknown.close();
});

Deno.test("a reply to the wrong request, and garbage between polls: protocol failures, recycled", async () => {
  const probe = (id: string, action: string) =>
    new MachineWorker(
      machine(id, { driver: "__sandbox_probe", host: "127.0.0.1", port: 9, options: { action } }),
      { log: new RecordingLog(), graceMs: GRACE, ...PROBE },
    );
  const wrong = probe("probe-wrong-id", "wrong_id");
  const late = probe("probe-late", "late_garbage");
  try {
    expectFail(await wrong.poll(), "protocol", "telemetry reply without the worker's secret");
    assertEquals(wrong.pid, null);

    assertEquals((await late.poll()).kind, "ok");
    const pid = late.pid;
    // The garbage arrives while idle: the worker is killed then and there, without waiting for a poll.
    await waitFor("the protocol recycle", 5000, () => late.stats.recycles.protocol === 1);
    await expectGone(pid);
    assertEquals(late.pid, null);
    // The next poll reports it (so backoff and breaker see it) without starting a process; the one after polls.
    expectFail(await late.poll(), "protocol", 'between polls: not JSON: "late garbage"');
    assertEquals(late.stats.spawns, 1);
    const third = await late.poll();
    assert(third.kind === "ok", JSON.stringify(third));
    assertNotEquals(late.pid, pid);
    assertEquals(late.stats.recycles.protocol, 1);
  } finally {
    await Promise.all([wrong.close(), late.close()]);
  }
});

Deno.test("a memory cap below a fresh worker's own memory is reported once, not enforced by recycling", async () => {
  const log = new RecordingLog();
  const w = new MachineWorker(machine("tiny-cap", { maxMemoryMb: 32 }), { log });
  try {
    for (let i = 0; i < 3; i++) {
      const out = await w.poll();
      assert(out.kind === "ok" && out.recycled === undefined, JSON.stringify(out));
    }
    assertEquals(w.stats.spawns, 1);
    assertEquals(
      log.lines.filter((l) => l.includes("max_memory_mb 32 is below what a fresh worker uses")).length,
      1,
    );
  } finally {
    await w.close();
  }
});
