/**
 * One truthful status, end to end: `status` against a real `run` subprocess frozen with SIGSTOP (STALE) and
 * thawed, counters across restarts and a standalone drain or upload, a data dir that does not exist,
 * `--watch`, and SIGHUP as a graceful stop.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { makePlant, type Plant } from "./helpers/agent.ts";
import { childPids, isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import type { StatusJson } from "../src/engine/status.ts";
import { simMachines, statusJson } from "./helpers/scenario_util.ts";
import { openBuffer, seed } from "./helpers/uplink_env.ts";

const SIM = (n: number) => simMachines("sim", n, 200, 200);

const status = statusJson;

/** Waits until `status --json` satisfies `cond` and returns that document. */
async function statusWhen(plant: Plant, what: string, ms: number, cond: (s: StatusJson) => boolean) {
  let last: StatusJson | null = null;
  await waitFor(what, ms, async () => cond(last = await status(plant)));
  return last!;
}

async function table(plant: Plant): Promise<string> {
  const r = await runCli(["status", "--config", plant.config], { env: plant.env });
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

const posix = Deno.build.os !== "windows";
if (!posix) console.log("ops_status_test: SIGSTOP/SIGCONT/SIGHUP tests skipped (no such signals on Windows)");

Deno.test({
  name: "status: STALE while the agent is frozen (SIGSTOP), fresh after SIGCONT; SIGHUP stops it gracefully",
  ignore: !posix,
  async fn() {
    const plant = await makePlant(SIM(2));
    const agent = plant.startAgent();
    try {
      const s0 = await statusWhen(
        plant,
        "polls",
        20_000,
        (s) => s.running && s.machines.every((m) => m.polls_total > 0),
      );
      assertEquals([s0.stale, s0.pid, s0.command], [false, agent.pid, "run"]);
      assert(s0.started_at !== null && s0.updated_at !== null && s0.updated_at >= s0.started_at);
      const t = await table(plant);
      assert(!t.includes("STALE"), t);
      assert(/ up \d/.test(t) && t.includes(" local)"), t);

      Deno.kill(agent.pid, "SIGSTOP");
      try {
        const stale = await statusWhen(plant, "STALE", 40_000, (s) => s.stale);
        assertEquals([stale.running, stale.pid], [true, agent.pid], "frozen but alive: still the holder");
        const human = await table(plant);
        assertStringIncludes(human, "\nSTALE: status last written ");
      } finally {
        Deno.kill(agent.pid, "SIGCONT");
      }
      await statusWhen(plant, "fresh again", 20_000, (s) => !s.stale);

      const workers = childPids(agent.pid);
      if (Deno.build.os === "linux") assertEquals(workers.length, 2, `worker processes: ${workers}`);
      Deno.kill(agent.pid, "SIGHUP");
      const exit = await agent.status;
      assertEquals(exit.code, 0, agent.stderr());
      assertStringIncludes(agent.stderr(), "SIGHUP received: stopping");
      assert(/stopped: \d+ polls/.test(agent.stderr()), agent.stderr());
      for (const pid of workers) assertEquals(isAlive(pid), false, `worker ${pid} survived SIGHUP`);
      const after = await status(plant);
      assertEquals([after.running, after.stale], [false, false]);
    } finally {
      await plant.close();
    }
  },
});

Deno.test("status: counters survive restarts and include what a standalone drain sent", async () => {
  const plant = await makePlant(SIM(1));
  try {
    // The cloud is down for the first two runs: everything stays queued.
    plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
    const run = async (until: (s: StatusJson) => boolean) => {
      const agent = plant.startAgent();
      await statusWhen(
        plant,
        "the run's progress",
        20_000,
        (s) => s.running && s.command === "run" && until(s),
      );
      Deno.kill(agent.pid, "SIGTERM");
      assertEquals((await agent.status).code, 0, agent.stderr());
      return await status(plant);
    };
    const a = await run((s) => s.machines[0].polls_total >= 3);
    assertEquals([a.running, a.uplink.sent_total, a.machines[0].state], [false, 0, "STOPPED"]);
    const polls = a.machines[0].polls_total;
    const b = await run((s) => s.machines[0].polls_total >= polls + 3);
    assert(b.started_at! > a.started_at!, "a new run");
    assert(
      b.machines[0].polls_total >= polls + 3,
      `polls_total went from ${polls} to ${b.machines[0].polls_total}`,
    );

    plant.ingest.inject({ kind: "clear" });
    const d = await runCli(["drain", "--config", plant.config, "--timeout", "30s"], { env: plant.env });
    assertEquals(d.code, 0, d.stderr);
    const c = await status(plant);
    const delivered = plant.ingest.counts().unique;
    assert(delivered > 0);
    assertEquals(c.uplink.sent_total, delivered, "the drain's records count in sent_total");
    assert(c.uplink.last_success_ts !== null);
    assertEquals(
      c.machines[0].polls_total,
      b.machines[0].polls_total,
      "a drain keeps the machines' counters",
    );
    assertEquals(c.buffer.queued, 0);

    // The next run starts from there: the last success and the totals are not forgotten.
    const agent = plant.startAgent();
    const e = await statusWhen(plant, "running", 20_000, (s) => s.running && s.command === "run");
    assert(e.uplink.sent_total >= delivered);
    assert(e.uplink.last_success_ts !== null && e.uplink.last_success_ts >= c.uplink.last_success_ts!);
    assert(e.machines[0].polls_total >= c.machines[0].polls_total);
    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0);
  } finally {
    await plant.close();
  }
});

Deno.test("status: a standalone upload counts in sent_total; not while run holds the data dir, nothing without one", async () => {
  const plant = await makePlant(SIM(1));
  try {
    const data = join(plant.dir, "data");
    const buffer = openBuffer(data);
    await seed(buffer, 40);
    await buffer.close();
    const file = join(plant.dir, "site.simco");
    const cli = (args: string[], config = plant.config) =>
      runCli([...args, "--config", config], { env: plant.env });
    assertEquals((await cli(["export", "--out", file])).code, 0);
    const before = Date.now();
    for (const expected of [40, 80]) {
      const up = await cli(["upload", file]);
      assertEquals(up.code, 0, up.stderr);
      const s = await status(plant);
      assertEquals([s.uplink.sent_total, s.running], [expected, false]);
      assert(s.uplink.last_success_ts !== null && s.uplink.last_success_ts >= before, "last success");
    }

    // run holds the data dir: only it writes status.json; the upload is counted by the cloud only.
    plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
    const agent = plant.startAgent();
    await statusWhen(plant, "run", 20_000, (s) => s.running && s.command === "run");
    plant.ingest.inject({ kind: "clear" });
    const held = await cli(["upload", file]);
    assertEquals(held.code, 0, held.stderr);
    assertStringIncludes(
      Deno.readTextFileSync(join(data, "logs", "agent.log")),
      `40 records uploaded while another process holds ${data}: not counted in its sent_total`,
    );
    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0, agent.stderr());

    // A config whose data dir does not exist: the upload works and creates nothing.
    const elsewhere = join(plant.dir, "elsewhere");
    const other = join(plant.dir, "other.toml");
    Deno.writeTextFileSync(
      other,
      Deno.readTextFileSync(plant.config).replace('data_dir = "data"', 'data_dir = "elsewhere"'),
    );
    assertEquals((await cli(["upload", file], other)).code, 0);
    assertEquals(existsSync(elsewhere), false, "upload created the data dir");
  } finally {
    await plant.close();
  }
});

Deno.test("status: a data dir that does not exist is said so, and not created", async () => {
  const plant = await makePlant(SIM(1));
  try {
    const t = await table(plant);
    assertStringIncludes(t, "not running; data dir ");
    assertStringIncludes(t, "does not exist");
    const s = await status(plant);
    assertEquals([s.data_dir_exists, s.running, s.stale, s.updated_at], [false, false, false, null]);
    let exists = true;
    try {
      Deno.statSync(s.data_dir);
    } catch {
      exists = false;
    }
    assertEquals(exists, false, "status created the data dir");
  } finally {
    await plant.close();
  }
});

Deno.test({
  name: "status --watch prints the table every second when not a terminal; Ctrl-C ends it with exit 0",
  ignore: !posix,
  async fn() {
    const plant = await makePlant(SIM(1));
    try {
      const p = spawnCli(["status", "--config", plant.config, "--watch"], {
        cwd: plant.dir,
        env: plant.env,
      });
      await waitFor("three tables", 20_000, () => p.stdout().split("agent e2e:").length - 1 >= 3);
      p.child.kill("SIGINT");
      const st = await p.status;
      const out = p.stdout();
      assertEquals(st.code, 0);
      assert(!out.includes("\x1b["), "no terminal control codes when stdout is not a terminal");
      assert(out.includes("\n\nagent e2e:"), "tables separated by a blank line");
    } finally {
      await plant.close();
    }
  },
});
