/**
 * Drivers that return several timestamped readings per poll (a ReadingBatch) through a real worker process:
 * the readings, cursor and status arrive validated, `ctx.cursor` reaches the driver's `init` (after a recycle
 * too), and a batch past the per-poll cap or with one bad reading is a protocol failure.
 */
import { assert, assertEquals } from "./assert.ts";
import { machine, PROBE } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import type { MetricValue } from "../src/record/mod.ts";

const probe = (id: string, action: string) =>
  machine(id, {
    driver: "__sandbox_probe",
    host: "127.0.0.1",
    port: 9,
    timeoutMs: 5000,
    options: { action },
  });

Deno.test("a ReadingBatch arrives with its readings, cursor and status; init gets the stored cursor", async () => {
  let stored: MetricValue | null = { resume: 7 };
  const w = new MachineWorker(probe("batch", "batch"), {
    log: new RecordingLog(),
    cursor: () => stored,
    ...PROBE,
  });
  try {
    const a = await w.poll();
    assert(a.kind === "ok", JSON.stringify(a));
    const t0 = a.readings![0].ts;
    assert(Math.abs(Date.now() - 60_000 - t0) < 30_000, `a reading time near a minute ago, got ${t0}`);
    assertEquals(a.readings, [{ ts: t0, metrics: { n: 2 } }, { ts: t0 + 1, metrics: { n: 3 } }]);
    assertEquals(a.cursor, { polls: 1, initCursor: { resume: 7 } });
    assertEquals(a.status, { polls: 1 });
    assertEquals(a.metrics, { n: 3 }, "metrics: the last reading's");
    const b = await w.poll();
    assert(b.kind === "ok");
    assertEquals(b.cursor, { polls: 2, initCursor: { resume: 7 } }, "same worker: init ran once");
    // A recycled worker's fresh driver gets the cursor stored by then.
    stored = b.cursor!;
    await w.recycle("test");
    const c = await w.poll();
    assert(c.kind === "ok");
    assertEquals(c.cursor, { polls: 1, initCursor: { polls: 2, initCursor: { resume: 7 } } });
    assertEquals(w.stats.spawns, 2);
  } finally {
    await w.close();
  }
});

Deno.test("a batch past the readings cap, or with one non-finite reading, is a protocol failure", async () => {
  for (
    const [action, text] of [
      ["too_many_readings", "readings: expected at most 1000 readings, got 1001"],
      ["bad_reading", "readings[1].metrics.a: expected a finite number, got NaN"],
    ]
  ) {
    const w = new MachineWorker(probe(action, action), { log: new RecordingLog(), ...PROBE });
    try {
      const out = await w.poll();
      assert(out.kind === "fail" && out.cause === "protocol", JSON.stringify(out));
      assert(out.message.includes(text), out.message);
    } finally {
      await w.close();
    }
  }
});
