/**
 * The MTConnect driver in a real sandboxed worker process against the scripted MTConnect agent
 * (tests/helpers/mtconnect_agent.ts) on 127.0.0.1: every state change between two polls arrives, agent
 * restarts and buffer overruns give the documented gap reading, the clock skew is warned about once per
 * connection, and each failure is one clear driver error.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { machine } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { FakeMTConnectAgent, VMC_ITEMS } from "./helpers/mtconnect_agent.ts";
import { MachineWorker, type PollOutcome } from "../src/sandbox/mod.ts";
import type { MachineConfig } from "../src/config/types.ts";
import type { MetricValue } from "../src/record/mod.ts";

function mtc(port: number, over: Partial<MachineConfig> = {}, options: Record<string, unknown> = {}) {
  return machine("mtc-1", {
    driver: "mtconnect",
    host: "127.0.0.1",
    port,
    timeoutMs: 3000,
    options: { sample_count: 1000, max_clock_skew: 120_000, path_prefix: "", ...options },
    ...over,
  });
}

function ok(o: PollOutcome) {
  assert(o.kind === "ok", JSON.stringify(o));
  return o;
}

async function withAgent(
  fn: (agent: FakeMTConnectAgent, worker: MachineWorker, log: RecordingLog) => Promise<void>,
  opts: {
    agent?: Parameters<typeof FakeMTConnectAgent.start>[0];
    machine?: Partial<MachineConfig>;
    options?: Record<string, unknown>;
    cursor?: () => MetricValue | null;
  } = {},
) {
  const agent = FakeMTConnectAgent.start(opts.agent);
  const log = new RecordingLog();
  const worker = new MachineWorker(mtc(agent.port, opts.machine, opts.options), { log, cursor: opts.cursor });
  try {
    await fn(agent, worker, log);
  } finally {
    await worker.close();
    await agent.close();
  }
}

Deno.test("mtconnect: a 200 ms FEED_HOLD between two 1 s polls is its own reading, with the state then", async () => {
  await withAgent(async (agent, w) => {
    agent.add("exec", "ACTIVE");
    agent.add("mode", "AUTOMATIC");
    agent.add("feed", "1200"); // mm/min
    const first = ok(await w.poll());
    const anchor = first.readings![0];
    assertEquals(anchor.metrics.execution, "ACTIVE");
    assertEquals(anchor.metrics.path_feedrate, 20, "1200 mm/min is 20 mm/s");
    await new Promise((r) => setTimeout(r, 300));
    const hold = Date.now();
    agent.add("exec", "FEED_HOLD", { ts: hold });
    agent.add("feed", "0", { ts: hold + 50 });
    await new Promise((r) => setTimeout(r, 200));
    agent.add("exec", "ACTIVE", { ts: hold + 200 });
    agent.add("feed", "600", { ts: hold + 250 });
    await new Promise((r) => setTimeout(r, 500));
    const second = ok(await w.poll());
    assertEquals(second.readings!.map((r) => [r.ts - hold, r.metrics.execution, r.metrics.path_feedrate]), [
      [0, "FEED_HOLD", 20],
      [200, "ACTIVE", 0],
      [250, "ACTIVE", 10],
    ]);
    // Nothing new: one heartbeat with the current state, stamped with the agent's clock.
    const third = ok(await w.poll());
    assertEquals(third.readings!.length, 1);
    assertEquals(third.readings![0].metrics, second.readings![2].metrics);
    assert(third.readings![0].ts > hold + 250);
    assertEquals(w.stats.spawns, 1);
    assertEquals(third.status?.observation_gaps_total, 0);
  });
});

Deno.test("mtconnect: an agent restart and a buffer overrun each give one gap reading, counted in status", async () => {
  await withAgent(async (agent, w) => {
    agent.add("exec", "ACTIVE");
    ok(await w.poll());
    agent.restart();
    agent.add("exec", "READY");
    const afterRestart = ok(await w.poll());
    const gap = afterRestart.readings![0].metrics;
    assertEquals(gap.observation_gap_reason, "agent_restart");
    assertEquals(gap.execution, "READY");
    assertEquals(gap.observation_gap, agent.nextSequence - 1, "the new instance's observations, summarised");
    assertEquals(afterRestart.status?.instance_id, agent.instanceId);
    assertEquals(afterRestart.status?.observation_gaps_total, 1);
    const from = agent.nextSequence;
    agent.overrun(40); // buffer of 16
    agent.add("exec", "STOPPED");
    const afterOverrun = ok(await w.poll());
    const og = afterOverrun.readings![0].metrics;
    assertEquals([og.observation_gap_reason, og.observation_gap, og.execution], [
      "buffer_overrun",
      41,
      "STOPPED",
    ]);
    assertEquals(agent.nextSequence - from, 41);
    assertEquals(afterOverrun.status?.observation_gaps_total, 2);
    assertEquals(afterOverrun.status?.observations_lost_total, (gap.observation_gap as number) + 41);
    // Back to normal: the next change is read one by one again.
    agent.add("exec", "ACTIVE");
    const next = ok(await w.poll());
    assertEquals(next.readings!.map((r) => r.metrics.execution), ["ACTIVE"]);
    assertEquals(next.readings![0].metrics.observation_gap, undefined);
  }, { agent: { bufferSize: 16 } });
});

Deno.test("mtconnect: a fresh worker resumes from the stored cursor exactly after the last delivered observation", async () => {
  let stored: MetricValue | null = null;
  await withAgent(async (agent, w) => {
    agent.add("parts", "1");
    const a = ok(await w.poll());
    stored = a.cursor!;
    const t = Date.now();
    agent.add("parts", "2", { ts: t });
    agent.add("parts", "3", { ts: t + 1 });
    await w.recycle("test: a crash");
    const b = ok(await w.poll());
    assertEquals(b.readings!.map((r) => r.metrics.part_count), [2, 3]);
    assertEquals(b.readings![0].metrics.observation_gap, undefined);
    assertEquals(w.stats.spawns, 2);
  }, { cursor: () => stored });
});

Deno.test("mtconnect: the agent's clock skew is warned about once per connection and shown in status", async () => {
  await withAgent(async (agent, w, log) => {
    agent.clockSkewMs = 10 * 60_000;
    ok(await w.poll());
    const second = ok(await w.poll());
    const skew = second.status?.clock_skew_ms as number;
    assert(Math.abs(skew - 600_000) < 5_000, `skew ${skew}`);
    const warns = log.lines.filter((l) => l.startsWith("WARN") && l.includes("clock is 600."));
    assertEquals(warns.length, 1, log.lines.join("\n"));
    assertStringIncludes(warns[0], "ahead of this computer's (max_clock_skew 120 s)");
  });
});

Deno.test("mtconnect: both namespaces and old versions: urn:mtconnect.com 1.1 maps the same", async () => {
  await withAgent(async (agent, w) => {
    agent.add("program", "O1234");
    const r = ok(await w.poll());
    assertEquals(r.readings![0].metrics.program, "O1234");
  }, { agent: { version: "1.1", oldNamespace: true } });
});

Deno.test("mtconnect: device choice: several devices need options.device; a missing one lists those there", async () => {
  const devices = { "VMC-3Axis": VMC_ITEMS, "Lathe": VMC_ITEMS.map((i) => ({ ...i, id: `l_${i.id}` })) };
  await withAgent(async (_agent, w) => {
    const out = await w.poll();
    assert(out.kind === "fail" && out.cause === "driver_error", JSON.stringify(out));
    assertStringIncludes(
      out.message,
      "[no_device] the agent serves 2 devices (VMC-3Axis, Lathe): set options.device",
    );
  }, { agent: { devices } });
  await withAgent(async (_agent, w) => {
    const out = await w.poll();
    assert(out.kind === "fail");
    assertStringIncludes(
      out.message,
      'options.device: expected one of the agent\'s devices (VMC-3Axis, Lathe), got "Mill"',
    );
  }, { agent: { devices }, options: { device: "Mill" } });
  await withAgent(async (agent, w) => {
    agent.add("l_exec", "ACTIVE");
    agent.add("exec", "STOPPED");
    const r = ok(await w.poll());
    assertEquals(r.readings![0].metrics.execution, "ACTIVE");
    assert(agent.requests.includes("/Lathe/current"), agent.requests.join(" "));
  }, { agent: { devices }, options: { device: "Lathe" } });
});

Deno.test("mtconnect: each failure is one classified driver error", async () => {
  const cases: [string, (a: FakeMTConnectAgent) => void, string][] = [
    [
      "404",
      (a) => a.fault({ kind: "status", status: 404, body: "Not Found" }),
      "[http] GET http://127.0.0.1:",
    ],
    ["500", (a) => a.fault({ kind: "status", status: 500 }), "expected status 200, got 500"],
    ["malformed", (a) => a.fault({ kind: "malformed" }), "[malformed] GET"],
    ["html", (a) => a.fault({ kind: "html" }), "[not_mtconnect] GET"],
    [
      "error document",
      (a) => a.fault({ kind: "error", code: "QUERY_ERROR", text: "bad query" }),
      "[mtconnect QUERY_ERROR]",
    ],
    ["slow", (a) => a.fault({ kind: "slow", ms: 5000 }), "[timeout] GET"],
  ];
  for (const [name, setup, text] of cases) {
    await withAgent(async (agent, w) => {
      setup(agent);
      const out = await w.poll();
      assert(out.kind === "fail", `${name}: ${JSON.stringify(out)}`);
      assertEquals(out.cause, name === "slow" ? out.cause : "driver_error", `${name}: ${out.message}`);
      assertStringIncludes(out.message, text, name);
    }, { machine: { timeoutMs: name === "slow" ? 1500 : 3000 } });
  }
  // Connection refused: a port nobody listens on (taken and released).
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const w = new MachineWorker(mtc(port), { log: new RecordingLog() });
  try {
    const out = await w.poll();
    assert(out.kind === "fail" && out.cause === "driver_error", JSON.stringify(out));
    assertStringIncludes(out.message, "[connection] GET http://127.0.0.1:");
    assertStringIncludes(out.message, "connection refused");
  } finally {
    await w.close();
  }
});
