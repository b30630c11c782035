/**
 * `simco-agent run` end to end: real agent subprocess, real worker processes, real buffer.db, real ingest on
 * 127.0.0.1. Short durations throughout.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { childPids, isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { runCli } from "./helpers/cli.ts";
import { ingestMetrics, printedIds } from "./helpers/scenario_util.ts";
import { recordId } from "../src/record/mod.ts";
import { VERSION } from "../src/version.ts";

const HEALTHY = (n: number, interval = "200ms") =>
  Array.from(
    { length: n },
    (_, i) =>
      `[[machines]]\nid = "sim-${i + 1}"\ndriver = "simulator"\ninterval = "${interval}"\n` +
      `options = { seed = ${i + 1} }\n`,
  ).join("\n");

Deno.test("run: status --json while running, SIGTERM during an upload loses nothing and leaves no process", async () => {
  const plant = await makePlant(HEALTHY(3));
  const agent = plant.startAgent();
  try {
    await waitFor("records at the ingest", 20_000, () => plant.ingest.counts().unique >= 20);

    // status from another process, while run is active: exactly the documented shape.
    const st = await runCli(["status", "--config", plant.config, "--json"], { env: plant.env });
    assertEquals(st.code, 0, st.stderr);
    const s = JSON.parse(st.stdout);
    assertEquals(Object.keys(s), [
      "agent_id",
      "data_dir",
      "data_dir_exists",
      "running",
      "pid",
      "command",
      "stale",
      "version",
      "started_at",
      "updated_at",
      "buffer",
      "uplink",
      "machines",
    ]);
    assertEquals([s.agent_id, s.running, s.pid, s.command, s.stale, s.version], [
      "e2e",
      true,
      agent.pid,
      "run",
      false,
      VERSION,
    ]);
    assertEquals(Object.keys(s.buffer), [
      "queued",
      "in_flight",
      "dead_letter",
      "dropped_total",
      "oldest_queued_ts",
      "file_bytes",
    ]);
    assertEquals(Object.keys(s.uplink), ["state", "last_success_ts", "last_error", "sent_total"]);
    assert(["ok", "idle"].includes(s.uplink.state), s.uplink.state);
    assert(s.uplink.sent_total > 0 && s.buffer.file_bytes > 0);
    assertEquals(s.machines.length, 3);
    for (const m of s.machines) {
      assertEquals(Object.keys(m).toSorted(), [
        "confinement",
        "consecutive_failures",
        "driver",
        "failures_by_cause",
        "failures_total",
        "id",
        "last_error",
        "last_success_ts",
        "next_attempt_ts",
        "polls_total",
        "state",
        "worker_memory_bytes",
        "worker_restarts",
      ]);
      assertEquals([m.driver, m.state], ["simulator", "OK"]);
      assert(m.polls_total > 0 && typeof m.last_success_ts === "number");
      // Default confinement; on Linux at least no_new_privs and the rlimits are always possible.
      assertEquals(Object.keys(m.confinement), ["mode", "active", "missing"]);
      assertEquals(m.confinement.mode, "best_effort");
      if (Deno.build.os === "linux") {
        assert(m.confinement.active.includes("no_new_privs"), m.confinement.active);
      }
    }
    const human = await runCli(["status", "--config", plant.config], { env: plant.env });
    assertMatch(human.stdout, new RegExp(`^agent e2e: running \\(pid ${agent.pid}, version ${VERSION}, up `));
    assertMatch(human.stdout, /^confinement best_effort: /m);

    // A second agent on the same data dir is refused.
    const second = await runCli(["run", "--config", plant.config], { env: plant.env });
    assertEquals(second.code, 3);
    assertStringIncludes(
      second.stderr,
      `another simco-agent (pid ${agent.pid}) is using ${join(plant.dir, "data")}`,
    );

    // Slow the ingest so an upload is in flight, then SIGTERM.
    plant.ingest.inject({ kind: "delay", ms: 1500 });
    const before = plant.ingest.requests().length;
    await waitFor("an upload in flight", 10_000, () => plant.ingest.requests().length > before || undefined);
    const workers = childPids(agent.pid);
    if (Deno.build.os === "linux") assertEquals(workers.length, 3, `worker processes: ${workers}`);
    const t0 = Date.now();
    Deno.kill(agent.pid, "SIGTERM");
    const status = await agent.status;
    assertEquals(status.code, 0, agent.stderr());
    assert(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms to stop`);
    for (const pid of workers) assertEquals(isAlive(pid), false, `worker ${pid} survived`);
    const stopped = agent.stderr().match(/stopped: (\d+) polls, (\d+) records buffered/);
    assert(stopped, agent.stderr());
    const buffered = Number(stopped[2]);

    // Everything buffered either reached the ingest or is still queued; drain delivers the rest exactly once.
    plant.ingest.inject({ kind: "delay", ms: 0 });
    const drain = await runCli(["drain", "--config", plant.config, "--timeout", "30s"], { env: plant.env });
    assertEquals(drain.code, 0, drain.stderr);
    assertEquals(plant.ingest.counts().unique, buffered);
    const after = await runCli(["status", "--config", plant.config, "--json"], { env: plant.env });
    const a = JSON.parse(after.stdout);
    assertEquals([a.running, a.pid, a.buffer.queued, a.buffer.in_flight], [false, null, 0, 0]);
    assert(a.machines.every((m: { state: string }) => m.state === "STOPPED"));
    // Counters survive: polls_total is at least what the first status saw.
    assert(a.machines[0].polls_total >= s.machines[0].polls_total);
  } finally {
    await plant.close();
  }
});

Deno.test("run: 5 failures open the breaker (CRITICAL), the probe after the cooldown closes it; availability records", async () => {
  // The outage outlasts the 5 failures even on a loaded machine (each failure recycles a worker process);
  // probes during it fail and reopen the breaker, the first probe after it closes the breaker.
  const failUntil = Date.now() + 20_000;
  const plant = await makePlant(
    `[[machines]]\nid = "bad-1"\ndriver = "simulator"\ninterval = "200ms"\nbreaker_cooldown = "4s"\nmax_backoff = "1s"\n` +
      `options = { seed = 9, fail_until = ${failUntil} }\n\n` + HEALTHY(1),
  );
  const agent = plant.startAgent();
  try {
    const statusOf = async () => {
      const r = await runCli(["status", "--config", plant.config, "--json"], { env: plant.env });
      if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout).machines.find((m: { id: string }) => m.id === "bad-1");
    };
    const critical = await waitFor("bad-1 CRITICAL", 19_000, async () => {
      const m = await statusOf();
      return m.state === "CRITICAL" ? m : undefined;
    });
    assertEquals(critical.consecutive_failures, 5);
    assert(Date.now() < failUntil, "breaker opened only after the outage ended: test timing broken");
    assertMatch(
      agent.stderr(),
      /CRITICAL simco\.engine: machine bad-1: 5 consecutive failures, breaker open; last error: .+; next probe in 4s/,
    );
    await waitFor("bad-1 OK again", 30_000, async () => (await statusOf()).state === "OK");
    assertMatch(agent.stderr(), /machine bad-1: probe succeeded, breaker closed/);
    await waitFor(
      "records of bad-1 at the ingest",
      10_000,
      () => ingestMetrics(plant.dir, "bad-1").length >= 2,
    );
    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0);
    const avail = ingestMetrics(plant.dir, "bad-1").filter((m) =>
      "availability" in m && "availability_reason" in m ||
      m.availability === "AVAILABLE" && Object.keys(m).length === 1
    );
    assertEquals(avail.map((m) => m.availability), ["UNAVAILABLE", "AVAILABLE"]);
    assertMatch(String(avail[0].availability_reason), /driver_error/);
  } finally {
    await plant.close();
  }
});

Deno.test("poll prints one record whose id matches the spec; an unknown machine is a usage error", async () => {
  const plant = await makePlant(HEALTHY(1));
  try {
    const r = await runCli(["poll", "sim-1", "--config", plant.config], { env: plant.env });
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assertEquals(lines.length, 1);
    const rec = JSON.parse(lines[0]);
    assertEquals(Object.keys(rec), ["id", "machine_id", "ts", "metrics"]);
    assertEquals(rec.machine_id, "sim-1");
    assertEquals(rec.id, recordId(rec));
    assert(Math.abs(rec.ts - Date.now()) < 60_000);
    const bad = await runCli(["poll", "sim-9", "--config", plant.config], { env: plant.env });
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, 'no machine "sim-9"');
  } finally {
    await plant.close();
  }
});

Deno.test("run: a second SIGTERM forces the exit (130); no worker stays, every buffered record is delivered later", async () => {
  const plant = await makePlant(
    HEALTHY(2, "100ms") + `\n[[machines]]\nid = "hang-1"\ndriver = "simulator"\ntimeout = "5s"\n` +
      `options = { behaviour = "hang" }\n`,
    "",
    { logLevel: "debug" },
  );
  const agent = plant.startAgent();
  try {
    await waitFor("records at the ingest", 20_000, () => plant.ingest.counts().unique >= 10);
    plant.ingest.inject({ kind: "delay", ms: 3000 });
    const before = plant.ingest.requests().length;
    await waitFor("an upload in flight", 10_000, () => plant.ingest.requests().length > before || undefined);
    const workers = childPids(agent.pid);
    if (Deno.build.os === "linux") assertEquals(workers.length, 3, `worker processes: ${workers}`);
    Deno.kill(agent.pid, "SIGTERM");
    await waitFor("the first signal logged", 5_000, () => agent.stderr().includes("SIGTERM received"));
    Deno.kill(agent.pid, "SIGTERM");
    const status = await agent.status;
    assertEquals(status.code, 130, agent.stderr());
    assertStringIncludes(agent.stderr(), "second signal: forcing exit");
    await waitFor("workers gone", 5_000, () => workers.every((pid) => !isAlive(pid)));
    plant.ingest.inject({ kind: "delay", ms: 0 });
    const drain = await runCli(["drain", "--config", plant.config, "--timeout", "30s"], { env: plant.env });
    assertEquals(drain.code, 0, drain.stderr);
    const printed = printedIds(agent.stderr());
    assert(printed.length >= 10);
    const stored = new Set(plant.ingest.ids());
    assertEquals(printed.filter((id) => !stored.has(id)), []);
  } finally {
    await plant.close();
  }
});
