/**
 * Output budgets per worker, in bytes: a driver flooding stdout (no newline, as 4 GB of garbage would) or
 * stderr while idle is killed at once, cause `output`, with the agent having read no more than the budget; the
 * stderr log allowance is the machine's and survives a recycle. Real worker processes, the probe driver.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { machine, PROBE } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";

const probe = (id: string, action: string, log: RecordingLog) =>
  new MachineWorker(
    machine(id, {
      driver: "__sandbox_probe",
      host: "127.0.0.1",
      port: 9,
      options: { action },
      timeoutMs: 5000,
    }),
    { log, graceMs: 300, ...PROBE },
  );

for (const stream of ["stdout", "stderr"] as const) {
  Deno.test(`a driver flooding ${stream} while idle is killed at once at the byte budget (output)`, async () => {
    const log = new RecordingLog();
    const w = probe(`flood-${stream}`, `flood_${stream}`, log);
    try {
      assertEquals((await w.poll()).kind, "ok");
      const pid = w.pid!;
      const t0 = performance.now();
      await waitFor("an output recycle", 10_000, () => w.stats.recycles.output >= 1);
      const ms = performance.now() - t0;
      if (Deno.build.os === "linux") await waitFor(`process ${pid} to be gone`, 3000, () => !isAlive(pid));
      const m = log.text().match(
        new RegExp(
          `recycled \\(output\\): while idle: ${stream} over its budget of (\\d+) bytes/s \\(burst (\\d+)\\): (\\d+) bytes read`,
        ),
      );
      assert(m, log.text());
      const [burst, read] = [Number(m[2]), Number(m[3])];
      // Stopped at the budget: the burst, what the rate added meanwhile, and one read buffer; never more.
      assert(
        read > burst && read <= burst + (Number(m[1]) * (ms + 1000)) / 1000 + 8192,
        `read ${read}, burst ${burst}`,
      );
      assertEquals(w.stats.recycles.protocol, 0);
      const next = await w.poll(); // reports the kill between polls, starts nothing
      assert(next.kind === "fail" && next.cause === "output", JSON.stringify(next));
      assertEquals(w.stats.spawns, 1);
      assertEquals((await w.poll()).kind, "ok"); // a fresh worker, which floods again later
      assertEquals(w.stats.spawns, 2);
    } finally {
      await w.close();
    }
  });
}

Deno.test("the stderr log allowance is the machine's: a recycled worker does not get a fresh one", async () => {
  const log = new RecordingLog();
  const w = probe("spam-twice", "spam_exit", log);
  try {
    assertEquals((await w.poll()).kind, "ok"); // 500 lines of 256 bytes, then the process exits
    await waitFor("the worker to exit", 5000, () => log.text().includes("more stderr bytes"));
    const second = await w.poll(); // recycles (crash), then a fresh worker spams again
    assert(second.kind === "ok", JSON.stringify(second));
    await waitFor(
      "the second worker's summary",
      5000,
      () => log.lines.filter((l) => l.includes("more stderr bytes")).length >= 2,
    );
    // 64 KiB a minute for the machine: 256 lines in all, not 256 per process.
    assertEquals(log.lines.filter((l) => l.includes("worker: probe: spam line")).length, 256);
    assertStringIncludes(log.text(), "62464 more stderr bytes (244 lines) not logged");
    assertStringIncludes(log.text(), "128000 more stderr bytes (500 lines) not logged");
    assertEquals(w.stats.spawns, 2);
  } finally {
    await w.close();
  }
});
