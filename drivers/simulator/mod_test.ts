import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertNotEquals, assertRejects } from "../../tests/assert.ts";
import { loadConfigOrThrow } from "../../src/config/load.ts";
import { checkMetrics } from "../../src/record/shape.ts";
import type { DriverContext } from "../types.ts";
import { CncModel } from "./model.ts";
import { SIMULATOR } from "./description.ts";
import { SimulatorDriver } from "./mod.ts";

const CTX: DriverContext = { machineId: "sim", host: null, port: null, timeoutMs: 1000, workDir: null };

/** The shared vocabulary (drivers/README.md): allowed values of the enumerated keys. */
const VOCAB: Record<string, readonly string[]> = {
  availability: ["AVAILABLE", "UNAVAILABLE"],
  execution: [
    "READY",
    "ACTIVE",
    "INTERRUPTED",
    "FEED_HOLD",
    "STOPPED",
    "OPTIONAL_STOP",
    "PROGRAM_STOPPED",
    "PROGRAM_COMPLETED",
    "WAIT",
  ],
  controller_mode: ["AUTOMATIC", "MANUAL", "MANUAL_DATA_INPUT", "SEMI_AUTOMATIC", "EDIT"],
  emergency_stop: ["ARMED", "TRIGGERED"],
};

function run(seed: number, seconds: number) {
  const m = new CncModel(seed);
  return Array.from({ length: seconds }, (_, t) => m.step(1_700_000_000_000 + t * 1000));
}

Deno.test("simulator model: same seed, same telemetry; another seed, other telemetry", () => {
  assertEquals(run(42, 600), run(42, 600));
  assertNotEquals(run(42, 600), run(43, 600));
});

Deno.test("simulator model: 8 hours stay in the shared vocabulary and look like a working machine", () => {
  const readings = run(7, 8 * 3600);
  const seen = new Set<string>();
  let lastCount = -1;
  let estops = 0;
  let alarms = 0;
  for (const r of readings) {
    assertEquals(checkMetrics(r), null);
    for (const [key, values] of Object.entries(VOCAB)) {
      assert(values.includes(r[key] as string), `${key}=${String(r[key])} is not in the vocabulary`);
    }
    assert(Number.isInteger(r.part_count) && (r.part_count as number) >= lastCount, "part_count never drops");
    lastCount = r.part_count as number;
    assert(typeof r.program === "string" && /^O\d{4} /.test(r.program));
    for (const k of ["spindle_speed", "spindle_load", "spindle_override", "feed_override", "path_feedrate"]) {
      assert(typeof r[k] === "number" && (r[k] as number) >= 0, `${k} is a non-negative number`);
    }
    if (r.execution === "ACTIVE") assert((r.spindle_speed as number) > 0 && (r.path_feedrate as number) > 0);
    if (r.execution === "READY") assertEquals(r.spindle_speed, 0);
    const list = r.alarms as { code: string; severity: string; message: string }[];
    for (const a of list) assert(a.severity === "FAULT" || a.severity === "WARNING");
    if (list.length) alarms++;
    if (r.emergency_stop === "TRIGGERED") {
      estops++;
      assertEquals(r.execution, "STOPPED");
      assert(list.some((a) => a.message === "EMERGENCY STOP"));
    }
    seen.add(r.execution as string);
  }
  for (const e of ["READY", "ACTIVE", "FEED_HOLD", "STOPPED", "PROGRAM_COMPLETED"]) assert(seen.has(e), e);
  const parts = (readings.at(-1)!.part_count as number) - (readings[0].part_count as number);
  assert(parts > 100 && parts < 1000, `${parts} parts in 8 h`);
  assert(alarms > 0 && estops > 0, `alarms ${alarms}, e-stops ${estops}`);
  assert(new Set(readings.map((r) => r.program)).size > 1, "programs change");
});

Deno.test("simulator model: time_scale speeds the machine up", () => {
  const slow = new CncModel(3, 1);
  const fast = new CncModel(3, 50);
  let a = 0, b = 0;
  for (let t = 0; t <= 600; t++) {
    a = slow.step(t * 1000).part_count as number;
    b = fast.step(t * 1000).part_count as number;
  }
  assert(b - a > 50, `fast machine made ${b - a} more parts`);
});

Deno.test("simulator driver: flaky fails at fail_rate, slow takes delay, healthy answers", async () => {
  const flaky = new SimulatorDriver();
  await flaky.init({ behaviour: "flaky", fail_rate: 1 }, CTX);
  await assertRejects(() => flaky.poll(), Error, "simulated communication error");
  const never = new SimulatorDriver();
  await never.init({ behaviour: "flaky", fail_rate: 0 }, CTX);
  for (let i = 0; i < 20; i++) await never.poll();
  const slow = new SimulatorDriver();
  await slow.init({ behaviour: "slow", delay: 60 }, CTX);
  const t0 = performance.now();
  await slow.poll();
  assert(performance.now() - t0 >= 55);
  const after = new SimulatorDriver();
  await after.init({ behaviour: "flaky", fail_rate: 1, misbehave_after: 2 }, CTX);
  await after.poll();
  await after.poll();
  await assertRejects(() => after.poll());
  await assertRejects(() => new SimulatorDriver().poll(), Error, "poll before init");
});

Deno.test("simulator driver: sample.toml loads, durations arrive as milliseconds", async () => {
  const cfg = await loadConfigOrThrow(fileURLToPath(new URL("./sample.toml", import.meta.url)));
  assertEquals(cfg.machines.map((m) => m.options.behaviour), [
    "healthy",
    "flaky",
    "slow",
    "hang",
    "crash",
    "leak",
    "garbage",
  ]);
  assertEquals(cfg.machines[2].options.delay, 1500);
  assertEquals(SIMULATOR.sampleOptions, { seed: 42, behaviour: "healthy" });
});
