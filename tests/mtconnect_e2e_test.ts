/**
 * The MTConnect driver end to end: `simco-agent run` (real subprocess, workers, buffer.db, ingest on
 * 127.0.0.1) against the scripted MTConnect agent. The agent is killed with SIGKILL mid-stream and started
 * again: every observation arrives at the ingest exactly once (none missing, none read twice), 200 ms
 * FEED_HOLDs between 1 s polls included. `simco-agent poll` prints the mapped records.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { runCli } from "./helpers/cli.ts";
import { FakeMTConnectAgent } from "./helpers/mtconnect_agent.ts";

const machineToml = (port: number) =>
  `[[machines]]\nid = "mtc-1"\ndriver = "mtconnect"\nhost = "127.0.0.1"\nport = ${port}\n` +
  `interval = "1s"\ntimeout = "3s"\n`;

/** Every record of a machine at the ingest: ts and metrics. */
function ingested(dir: string, machineId: string): { ts: number; metrics: Record<string, unknown> }[] {
  const db = new DatabaseSync(join(dir, "ingest.db"), { readOnly: true });
  try {
    return db.prepare("SELECT ts, metrics FROM records WHERE machine_id = ?").all(machineId).map((r) => ({
      ts: Number(r.ts),
      metrics: JSON.parse(String(r.metrics)),
    }));
  } finally {
    db.close();
  }
}

/**
 * Feeds the fake agent like a running machine: a part every ~40 ms and, every ~1.3 s, a 200 ms FEED_HOLD.
 * Timestamps are an hour in the past and strictly increasing, so no heartbeat (stamped with the agent's
 * clock, now) shares one with an observation.
 */
function feed(agent: FakeMTConnectAgent): { stop(): void; parts: () => number } {
  let parts = 0;
  let last = 0;
  const stamp = () => (last = Math.max(last + 1, Date.now() - 3_600_000));
  agent.add("exec", "ACTIVE", { ts: stamp() });
  const partTimer = setInterval(() => agent.add("parts", String(++parts), { ts: stamp() }), 40);
  const holdTimer = setInterval(() => {
    agent.add("exec", "FEED_HOLD", { ts: stamp() });
    setTimeout(() => agent.add("exec", "ACTIVE", { ts: stamp() }), 200);
  }, 1300);
  return {
    stop() {
      clearInterval(partTimer);
      clearInterval(holdTimer);
    },
    parts: () => parts,
  };
}

Deno.test("mtconnect e2e: kill -9 of the agent and a restart: every observation arrives exactly once", async () => {
  const mtc = FakeMTConnectAgent.start({ bufferSize: 100_000 });
  const plant = await makePlant(machineToml(mtc.port));
  let feeder = { stop() {}, parts: () => 0 };
  try {
    const first = plant.startAgent();
    // The first connection anchors with /current (what came before is its state); feed only after that.
    await waitFor(
      "the anchor reading",
      30_000,
      () => ingested(plant.dir, "mtc-1").some((r) => "alarms" in r.metrics),
    );
    const fromSeq = mtc.nextSequence;
    feeder = feed(mtc);
    await waitFor(
      "part counts at the ingest",
      30_000,
      () => ingested(plant.dir, "mtc-1").some((r) => Number(r.metrics.part_count) >= 40),
    );
    const st = await runCli(["status", "--config", plant.config, "--json"], { env: plant.env });
    const ds = JSON.parse(st.stdout).machines[0].driver_status;
    assertEquals([ds.instance_id, ds.observation_gaps_total], [mtc.instanceId, 0], st.stdout);
    assertEquals(typeof ds.clock_skew_ms, "number");
    const human = await runCli(["status", "--config", plant.config], { env: plant.env });
    assert(
      human.stdout.includes(`mtc-1 driver: device=VMC-3Axis, instance_id=${mtc.instanceId}`),
      human.stdout,
    );
    Deno.kill(first.pid, "SIGKILL");
    await first.status;
    await new Promise((r) => setTimeout(r, 1500)); // observations keep coming while no agent runs
    const second = plant.startAgent();
    await new Promise((r) => setTimeout(r, 1500));
    feeder.stop();
    const lastPart = feeder.parts();
    await waitFor(
      `part_count ${lastPart} at the ingest`,
      30_000,
      () => ingested(plant.dir, "mtc-1").some((r) => r.metrics.part_count === lastPart),
    );
    Deno.kill(second.pid, "SIGTERM");
    assertEquals((await second.status).code, 0, second.stderr());

    const records = ingested(plant.dir, "mtc-1");
    const byTs = new Map<number, Record<string, unknown>[]>();
    for (const r of records) byTs.set(r.ts, [...(byTs.get(r.ts) ?? []), r.metrics]);
    const observed = mtc.observations().filter(([seq, , id]) =>
      seq >= fromSeq && (id === "parts" || id === "exec")
    );
    let holds = 0;
    for (const [seq, ts, id, value] of observed) {
      const at = byTs.get(ts) ?? [];
      assertEquals(at.length, 1, `observation ${seq} (${id} = ${value}): ${at.length} records at its ts`);
      if (id === "parts") assertEquals(at[0].part_count, Number(value), `observation ${seq}`);
      else assertEquals(at[0].execution, value, `observation ${seq}`);
      if (value === "FEED_HOLD") holds++;
    }
    assert(holds >= 2, `only ${holds} FEED_HOLDs`);
    assert(lastPart >= 80, `only ${lastPart} parts`);
    // No reading claims a gap: the restart resumed from the committed cursor.
    assertEquals(records.filter((r) => "observation_gap" in r.metrics), []);
  } finally {
    feeder.stop();
    await plant.close();
    await mtc.close();
  }
});

Deno.test("mtconnect e2e: simco-agent poll prints the mapped records", async () => {
  const mtc = FakeMTConnectAgent.start();
  await withTempDir(async (dir) => {
    mtc.add("exec", "ACTIVE");
    mtc.add("mode", "AUTOMATIC");
    mtc.add("program", "O4711");
    mtc.add("sspeed", "8000");
    mtc.add("feed", "3000");
    mtc.add("system", "Coolant low", { level: "Warning", nativeCode: "C12" });
    const config = join(dir, "machines.toml");
    await Deno.writeTextFile(
      config,
      `[agent]\nid = "poll-test"\ndata_dir = "data"\n\n${machineToml(mtc.port)}`,
    );
    const r = await runCli(["poll", "mtc-1", "--config", config], { cwd: dir });
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.length, 1, r.stdout);
    assertEquals(Object.keys(lines[0]), ["id", "machine_id", "ts", "metrics"]);
    assertEquals(lines[0].metrics, {
      availability: "AVAILABLE",
      alarms: [{ code: "C12", severity: "WARNING", message: "Coolant low" }],
      execution: "ACTIVE",
      controller_mode: "AUTOMATIC",
      program: "O4711",
      path_feedrate: 50,
      spindle_speed: 8000,
    });
  }).finally(() => mtc.close());
});
