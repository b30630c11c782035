/**
 * MTConnect driver benchmark (suite `mtconnect`): parsing a /sample document of 1000 observations (and
 * turning it into readings), and the PSS of an MTConnect worker at steady state next to a simulator worker
 * warmed up the same way in the same run (PSS depends on what else shares the pages).
 *
 *   deno task bench mtconnect
 *   MTCONNECT_BENCH_POLLS=2000 deno task bench mtconnect     (polls per worker before measuring; default 1000)
 *
 * Goals (issue 11): parse <= 20 ms, worker PSS <= 22 MiB. Memory figures need Linux (/proc).
 */
import type { Suite } from "./mod.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import { machine } from "../tests/helpers/sandbox_machines.ts";
import { FakeMTConnectAgent } from "../tests/helpers/mtconnect_agent.ts";
import { parseDocument } from "../drivers/mtconnect/parse.ts";
import { Catalog, MachineState, readingsOf } from "../drivers/mtconnect/mapping.ts";
import { silent, smaps } from "./sandbox_bench.ts";

const ITEMS = ["exec", "parts", "sspeed", "sload", "feed", "fovr", "program", "mode"] as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The 1-minute load average (Linux), for reading the figures; "n/a" elsewhere. */
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "n/a";
  }
}

/** One plausible observation (a value for one of the fake device's data items). */
function observe(agent: FakeMTConnectAgent, i: number, ts: number): void {
  const id = ITEMS[i % ITEMS.length];
  const value = id === "exec"
    ? (i % 3 ? "ACTIVE" : "FEED_HOLD")
    : id === "program"
    ? `O${i % 50}`
    : id === "mode"
    ? "AUTOMATIC"
    : String(i % 997);
  agent.add(id, value, { ts });
}

async function parseFigures(): Promise<void> {
  const agent = FakeMTConnectAgent.start({ bufferSize: 4096 });
  try {
    const from = agent.nextSequence;
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 1000; i++) observe(agent, i, t0 + i * 7);
    const xml = await (await fetch(`http://127.0.0.1:${agent.port}/sample?from=${from}&count=1000`)).text();
    const doc = parseDocument(xml);
    if (doc.kind !== "streams" || doc.observations.length !== 1000) {
      throw new Error("bench: unexpected document");
    }
    const parse: number[] = [];
    const map: number[] = [];
    for (let i = 0; i < 120; i++) {
      const a = performance.now();
      const d = parseDocument(xml);
      const b = performance.now();
      if (d.kind !== "streams") throw new Error("bench: not streams");
      readingsOf(new Catalog(), new MachineState(), d.observations, {
        previous: null,
        fallbackTs: 0,
        maxReadings: 1000,
      });
      const c = performance.now();
      if (i >= 20) {
        parse.push(b - a);
        map.push(c - b);
      }
    }
    console.log(
      `parse /sample of 1000 observations (${(xml.length / 1024).toFixed(0)} KiB): ` +
        `median ${median(parse).toFixed(2)} ms, max ${Math.max(...parse).toFixed(2)} ms (goal <= 20 ms)`,
    );
    console.log(`  + observations to readings: median ${median(map).toFixed(2)} ms`);
    console.log(`  load average while measuring: ${loadAverage()}`);
  } finally {
    await agent.close();
  }
}

async function memoryFigures(): Promise<void> {
  const polls = Number(Deno.env.get("MTCONNECT_BENCH_POLLS") ?? 1000);
  const agent = FakeMTConnectAgent.start({ bufferSize: 131_072 });
  const mtc = new MachineWorker(
    machine("bench-mtc", {
      driver: "mtconnect",
      host: "127.0.0.1",
      port: agent.port,
      timeoutMs: 5000,
      options: { sample_count: 1000, max_clock_skew: 120_000, path_prefix: "" },
    }),
    { log: silent },
  );
  const sim = new MachineWorker(machine("bench-sim", { timeoutMs: 5000 }), { log: silent });
  let n = 0;
  try {
    const started = performance.now();
    for (let p = 0; p < polls; p++) {
      // ~10 observations between polls, as a busy machine at 1 s would send.
      for (let k = 0; k < 10; k++) observe(agent, n++, Date.now() - 1000 + k);
      const [a, b] = await Promise.all([mtc.poll(), sim.poll()]);
      if (a.kind !== "ok") throw new Error(`bench: mtconnect poll failed: ${a.message}`);
      if (b.kind !== "ok") throw new Error(`bench: simulator poll failed: ${b.message}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const secs = (performance.now() - started) / 1000;
    const m = mtc.pid === null ? null : smaps(mtc.pid);
    const s = sim.pid === null ? null : smaps(sim.pid);
    const f = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(1));
    console.log(
      `MTConnect worker after ${polls} polls (${n} observations, ${secs.toFixed(0)} s): ` +
        `PSS ${f(m?.pss)} MiB, RSS ${f(m?.rss)} MiB (goal PSS <= 22 MiB)`,
    );
    console.log(`simulator worker, same polls, same run: PSS ${f(s?.pss)} MiB, RSS ${f(s?.rss)} MiB`);
    console.log(`mtconnect worker starts: ${mtc.stats.spawns} (1 = never recycled)`);
  } finally {
    await mtc.close();
    await sim.close();
    await agent.close();
  }
}

/** The suite. */
export const mtconnectSuite: Suite = {
  name: "mtconnect",
  async run() {
    await parseFigures();
    await memoryFigures();
  },
};

if (import.meta.main) await mtconnectSuite.run();
