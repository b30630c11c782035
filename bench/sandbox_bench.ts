/**
 * Sandbox benchmark: worker start latency, memory per worker (RSS and PSS from /proc/<pid>/smaps_rollup),
 * and a fleet of simulated machines polled at 1 s: share of polls within 100 ms of their schedule, agent
 * and worker CPU, total PSS of agent plus workers.
 *
 *   deno task bench sandbox                                   (100 machines, 60 s)
 *   SANDBOX_BENCH_SECONDS=20 SANDBOX_BENCH_MACHINES=50 deno task bench sandbox
 *   deno run -A --unstable-worker-options bench/sandbox_bench.ts --duration 20 --machines 50 --warm 0
 *
 * Before the timed run every worker is warmed up with `--warm` / SANDBOX_BENCH_WARM polls (default 1000),
 * so the memory figures are those of long-running workers, not of fresh ones.
 *
 * First, a healthy machine polled every 100 ms beside four output flooders (`--flood-duration` /
 * SANDBOX_BENCH_FLOOD_SECONDS, default 30 s): the share of its readings within 100 ms of schedule.
 *
 * Memory and CPU figures need Linux (/proc); elsewhere they print as n/a.
 *
 * The first section compares confinement off and best_effort (src/sandbox/confine): worker start and PSS per
 * worker, and the difference (goal: +50 ms median start, +1 MiB PSS at most).
 *
 * SANDBOX_BENCH_V8=1 adds an experiment (from source only): 30 bare worker processes started with extra
 * `--v8-flags`, polled at 1 Hz for 30 s, PSS per worker for each flag set. Findings are in
 * docs/worker-protocol.md ("Memory").
 */
import { cpuUsage } from "node:process";
import type { Suite } from "./mod.ts";
import type { MachineConfig } from "../src/config/types.ts";
import type { Log } from "../src/log/mod.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import { type ConfinementMode, Confiner } from "../src/sandbox/confine/mod.ts";
import { DENO_CONFIG, isStandalone, MAIN_MODULE, RUNTIME_FLAGS } from "../src/runtime.ts";
import { machine as testMachine, PROBE } from "../tests/helpers/sandbox_machines.ts";

/** A Log that drops everything. */
export const silent: Log = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };

/** A healthy simulator machine with the bench's timeout and a seed taken from its id. */
function machine(id: string): MachineConfig {
  return testMachine(id, {
    timeoutMs: 5000,
    options: { seed: Number(id.replace(/\D/g, "")) || 1, behaviour: "healthy" },
  });
}

/** Resident and proportional set size of one process, MiB. */
export interface Mem {
  rss: number;
  pss: number;
}

/** RSS and PSS in MiB of a process (Linux), or null. */
export function smaps(pid: number | "self"): Mem | null {
  try {
    const t = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    const kb = (k: string) => Number(t.match(new RegExp(`^${k}:\\s+(\\d+)`, "m"))?.[1] ?? NaN);
    return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024 };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used (Linux), or null. */
export function procCpu(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
/** One decimal, or n/a. */
export const f1 = (
  x: number | null | undefined,
) => (x === null || x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(1));
/** Sleeps until `performance.now()` reaches `t`. */
export const sleepUntil = (t: number) =>
  new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

async function startLatency(runs: number): Promise<void> {
  const first: number[] = [];
  const start: number[] = [];
  const steady: number[] = [];
  for (let i = 0; i < runs; i++) {
    const w = new MachineWorker(machine(`lat${i}`), { log: silent });
    const o = await w.poll();
    if (o.kind !== "ok") throw new Error(`start poll failed: ${o.message}`);
    first.push(o.durationMs);
    start.push(w.stats.lastStartMs ?? NaN);
    for (let k = 0; k < 20; k++) steady.push((await w.poll()).durationMs);
    await w.close();
  }
  console.log(
    `worker start (spawn until init answered), ${runs} runs: median ${f1(pct(start, 0.5))} ms, max ${
      f1(Math.max(...start))
    } ms`,
  );
  console.log(
    `first poll incl. start: median ${f1(pct(first, 0.5))} ms; later polls (round trip): median ${
      pct(steady, 0.5).toFixed(2)
    } ms, p99 ${pct(steady, 0.99).toFixed(2)} ms`,
  );
}

async function memoryPerWorker(counts: number[]): Promise<void> {
  for (const n of counts) {
    const ws = Array.from({ length: n }, (_, i) => new MachineWorker(machine(`mem${i}`), { log: silent }));
    for (const w of ws) await w.poll();
    for (let k = 0; k < 3; k++) {
      await Promise.all(ws.map((w) => w.poll()));
      await new Promise((r) => setTimeout(r, 200));
    }
    const mems = ws.map((w) => smaps(w.pid!)).filter((m): m is Mem => m !== null);
    const avg = (k: keyof Mem) => mems.reduce((a, m) => a + m[k], 0) / mems.length;
    console.log(
      `memory per worker, ${n} running: RSS ${f1(avg("rss"))} MiB, PSS ${f1(avg("pss"))} MiB` +
        ` (measured by the agent, statm: RSS ${f1((ws[0].rssBytes ?? NaN) / 1048576)} MiB)`,
    );
    await Promise.all(ws.map((w) => w.close()));
  }
}

/** Worker start (median of `runs`) and PSS per worker (`n` running) with one confinement mode. */
async function confinedFigures(
  mode: ConfinementMode,
  runs: number,
  n: number,
): Promise<{ start: number; pss: number }> {
  const dataDir = await Deno.makeTempDir({ prefix: "sandbox_bench_confine_" });
  const confiner = new Confiner({ mode, workerUser: "nobody", dataDir });
  const opts = { log: silent, confiner };
  try {
    const start: number[] = [];
    for (let i = 0; i < runs; i++) {
      const w = new MachineWorker(machine(`conf${i}`), opts);
      const o = await w.poll();
      if (o.kind !== "ok") throw new Error(`confinement ${mode}: start poll failed: ${o.message}`);
      start.push(w.stats.lastStartMs ?? NaN);
      await w.close();
    }
    const ws = Array.from({ length: n }, (_, i) => new MachineWorker(machine(`confmem${i}`), opts));
    for (const w of ws) await w.poll();
    for (let k = 0; k < 3; k++) await Promise.all(ws.map((w) => w.poll()));
    const mems = ws.map((w) => smaps(w.pid!)).filter((m): m is Mem => m !== null);
    await Promise.all(ws.map((w) => w.close()));
    return { start: pct(start, 0.5), pss: mems.reduce((a, m) => a + m.pss, 0) / mems.length };
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** The cost of OS confinement: start and PSS with confinement off and best_effort, interleaved twice. */
async function confinementCost(runs: number, n: number): Promise<void> {
  const figures: Record<string, { start: number[]; pss: number[] }> = {
    off: { start: [], pss: [] },
    best_effort: { start: [], pss: [] },
  };
  for (let round = 0; round < 2; round++) {
    for (const mode of ["off", "best_effort"] as const) {
      const f = await confinedFigures(mode, runs, n);
      figures[mode].start.push(f.start);
      figures[mode].pss.push(f.pss);
    }
  }
  const plan = new Confiner({ mode: "best_effort", workerUser: "nobody", dataDir: "/nonexistent" })
    .status(machine("plan1"));
  console.log(
    `confinement best_effort here: ${plan.active.join(", ")}${
      plan.missing.length ? "; not enforced: " + plan.missing.join("; ") : ""
    }`,
  );
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  for (const mode of ["off", "best_effort"]) {
    console.log(
      `confinement ${mode}: worker start median ${
        f1(mean(figures[mode].start))
      } ms (${runs} starts, 2 rounds), ` +
        `PSS ${f1(mean(figures[mode].pss))} MiB per worker (${n} running)`,
    );
  }
  const dStart = mean(figures.best_effort.start) - mean(figures.off.start);
  const dPss = mean(figures.best_effort.pss) - mean(figures.off.pss);
  console.log(
    `confinement cost: start ${dStart >= 0 ? "+" : ""}${f1(dStart)} ms (goal <= +50), PSS ${
      dPss >= 0 ? "+" : ""
    }${dPss.toFixed(2)} MiB per machine (goal <= +1)`,
  );
}

/**
 * Steady state: V8's optimising compilers make a worker grow for its first few thousand polls (at 1 poll a
 * second that takes longer than the fleet run). One worker polled at 20 Hz shows where it ends up.
 */
async function steadyState(seconds: number): Promise<void> {
  const w = new MachineWorker(machine("steady1"), { log: silent });
  await w.poll();
  const before = smaps(w.pid!);
  const t0 = performance.now();
  let polls = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await w.poll();
    polls++;
    await new Promise((r) => setTimeout(r, 50));
  }
  const after = smaps(w.pid!);
  console.log(
    `steady state, one worker polled at 20 Hz: RSS ${f1(before?.rss)} -> ${
      f1(after?.rss)
    } MiB after ${polls} polls`,
  );
  await w.close();
}

async function fleet(n: number, seconds: number, warm: number): Promise<void> {
  const ws = Array.from({ length: n }, (_, i) => new MachineWorker(machine(`sim${i}`), { log: silent }));
  const t0 = performance.now();
  // Start in batches so 100 process starts do not compete for 2 cores all at once.
  for (let i = 0; i < n; i += 10) await Promise.all(ws.slice(i, i + 10).map((w) => w.poll()));
  console.log(`fleet: ${n} workers started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (warm > 0) {
    // Bring every worker to its steady state first (see steadyState), 10 machines at a time.
    const t1 = performance.now();
    for (let i = 0; i < n; i += 10) {
      await Promise.all(
        ws.slice(i, i + 10).map(async (w) => {
          for (let k = 0; k < warm; k++) await w.poll();
        }),
      );
    }
    console.log(
      `fleet: warmed up with ${warm} polls per worker in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    );
  }
  const agentCpu0 = cpuUsage();
  const workerCpu0 = ws.map((w) => procCpu(w.pid!));
  const base = performance.now() + 1000;
  const end = base + seconds * 1000;
  const doneLate: number[] = [];
  const startLate: number[] = [];
  let fails = 0;
  await Promise.all(ws.map(async (w, i) => {
    const offset = (i * 1000) / n; // machines spread over the second
    for (let k = 0;; k++) {
      const due = base + offset + k * 1000;
      if (due >= end) break;
      await sleepUntil(due);
      startLate.push(performance.now() - due);
      const o = await w.poll();
      doneLate.push(performance.now() - due);
      if (o.kind !== "ok") fails++;
    }
  }));
  const wall = (performance.now() - base) / 1000;
  const agentCpu = cpuUsage(agentCpu0);
  const agentPct = ((agentCpu.user + agentCpu.system) / 1e6 / wall) * 100;
  const workerCpu1 = ws.map((w) => procCpu(w.pid!));
  const workerSecs = workerCpu1.reduce<number | null>(
    (a, c, i) => (a === null || c === null || workerCpu0[i] === null ? null : a + c - workerCpu0[i]!),
    0,
  );
  const agentMem = smaps("self");
  const mems = ws.map((w) => smaps(w.pid!));
  const workersPss = mems.every((m) => m) ? mems.reduce((a, m) => a + m!.pss, 0) : null;
  const within = doneLate.filter((l) => l <= 100).length / doneLate.length;
  console.log(`fleet: ${doneLate.length} polls in ${seconds} s, ${fails} failed`);
  console.log(
    `  reading done within 100 ms of schedule: ${
      (within * 100).toFixed(2)
    } % (goal >= 99 %); lateness of the ` +
      `reading p50 ${f1(pct(doneLate, 0.5))} ms, p99 ${f1(pct(doneLate, 0.99))} ms, max ${
        f1(Math.max(...doneLate))
      } ms; of the poll start p99 ${f1(pct(startLate, 0.99))} ms`,
  );
  console.log(
    `  agent CPU ${f1(agentPct)} % of one core; all workers ${
      workerSecs === null ? "n/a" : f1((workerSecs / wall) * 100)
    } % of one core`,
  );
  console.log(
    `  PSS: agent ${f1(agentMem?.pss)} MiB + workers ${f1(workersPss)} MiB = ${
      f1(workersPss === null || !agentMem ? null : agentMem.pss + workersPss)
    } MiB, ${
      f1(workersPss === null || !agentMem ? null : (agentMem.pss + workersPss) / n)
    } MiB per machine (goal <= 20)`,
  );
  await Promise.all(ws.map((w) => w.close()));
}

/**
 * A healthy machine polled every 100 ms beside four flooders (two on stdout, two on stderr, each polled once a
 * second, flooding while idle, killed at their output budget and started again at their next poll): the share
 * of the healthy machine's readings done within 100 ms of schedule (goal >= 99 %). Exported for a run of its own.
 */
export async function floodNeighbours(seconds: number): Promise<void> {
  // The same machine alone first: the machine's own noise, to compare with.
  await healthyBeside(seconds, 0);
  await healthyBeside(seconds, 4);
}

async function healthyBeside(seconds: number, nFlooders: number): Promise<void> {
  const healthy = new MachineWorker(machine("flood-healthy"), { log: silent });
  const flooders = ["flood_stdout", "flood_stdout", "flood_stderr", "flood_stderr"].slice(0, nFlooders).map((
    action,
    i,
  ) =>
    new MachineWorker(
      testMachine(`flooder${i}`, {
        driver: "__sandbox_probe",
        host: "127.0.0.1",
        port: 9,
        timeoutMs: 5000,
        options: { action },
      }),
      { log: silent, graceMs: 300, ...PROBE },
    )
  );
  await healthy.poll();
  await Promise.all(flooders.map((w) => w.poll()));
  const agentCpu0 = cpuUsage();
  const base = performance.now() + 500;
  const end = base + seconds * 1000;
  const late: number[] = [];
  let fails = 0;
  const loop = async (w: MachineWorker, period: number, record: boolean, offset = 0) => {
    for (let k = 0;; k++) {
      const due = base + offset + k * period;
      if (due >= end) break;
      await sleepUntil(due);
      const o = await w.poll();
      if (record) {
        late.push(performance.now() - due);
        if (o.kind !== "ok") fails++;
      }
    }
  };
  // Flooders spread over the second, as the engine spreads machines.
  await Promise.all([
    loop(healthy, 100, true),
    ...flooders.map((w, i) => loop(w, 1000, false, i * 250 + 50)),
  ]);
  const wall = (performance.now() - base) / 1000;
  const cpu = cpuUsage(agentCpu0);
  const within = late.filter((l) => l <= 100).length / late.length;
  const output = flooders.reduce((a, w) => a + w.stats.recycles.output, 0);
  const spawns = flooders.reduce((a, w) => a + w.stats.spawns, 0);
  console.log(
    `flood: healthy machine at 100 ms beside ${nFlooders} flooders for ${seconds} s: ${late.length} polls, ${fails} failed; ` +
      `within 100 ms of schedule ${(within * 100).toFixed(2)} % (goal >= 99 %), lateness p50 ${
        f1(pct(late, 0.5))
      } ms, p99 ${f1(pct(late, 0.99))} ms, max ${f1(Math.max(...late))} ms`,
  );
  console.log(
    `  flooders: ${spawns} worker starts, ${output} recycled for output; agent CPU ${
      f1(((cpu.user + cpu.system) / 1e6 / wall) * 100)
    } % of one core`,
  );
  await Promise.all([healthy, ...flooders].map((w) => w.close()));
}

/** Raw workers (no MachineWorker) under `deno run` with extra Deno flags: PSS per worker after `seconds`. */
async function flagExperiment(flags: string[], n: number, seconds: number): Promise<void> {
  const enc = new TextEncoder();
  const init = {
    op: "init",
    driver: "simulator",
    module: null,
    options: { seed: 1, behaviour: "healthy" },
    ctx: { machineId: "x", host: null, port: null, timeoutMs: 1000 },
    permissions: { net: false, read: false, ffi: false },
  };
  const kids = Array.from({ length: n }, () => {
    const c = new Deno.Command(Deno.execPath(), {
      args: ["run", ...RUNTIME_FLAGS, ...flags, "--config", DENO_CONFIG, MAIN_MODULE, "__worker"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return { c, w: c.stdin.getWriter() };
  });
  for (const k of kids) await k.w.write(enc.encode(JSON.stringify({ id: 1, ...init }) + "\n"));
  for (let t = 0; t < seconds; t++) {
    await new Promise((r) => setTimeout(r, 1000));
    for (const k of kids) await k.w.write(enc.encode(JSON.stringify({ id: t + 2, op: "poll" }) + "\n"));
  }
  await new Promise((r) => setTimeout(r, 300));
  const mems = kids.map((k) => smaps(k.c.pid));
  const pss = mems.every((m) => m) ? mems.reduce((a, m) => a + m!.pss, 0) / n : null;
  console.log(`  ${flags.join(" ") || "(no extra flags)"}: PSS ${f1(pss)} MiB per worker (${n} workers)`);
  for (const k of kids) {
    await k.w.close().catch(() => {});
    await k.c.status;
  }
}

function param(flag: string, env: string, dflt: number, zeroOk = false): number {
  const i = Deno.args.indexOf(flag);
  const v = i >= 0 ? Deno.args[i + 1] : Deno.env.get(env);
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) {
    throw new Error(`${flag} / ${env}: expected a ${zeroOk ? "non-negative" : "positive"} number, got ${v}`);
  }
  return n;
}

/** The sandbox suite for bench/mod.ts. */
export const sandboxSuite: Suite = {
  name: "sandbox",
  async run() {
    const seconds = param("--duration", "SANDBOX_BENCH_SECONDS", 60);
    const machines = param("--machines", "SANDBOX_BENCH_MACHINES", 100);
    const warm = param("--warm", "SANDBOX_BENCH_WARM", 1000, true);
    await confinementCost(10, 10);
    if (Deno.env.get("SANDBOX_BENCH_ONLY") === "confinement") return;
    const flood = param("--flood-duration", "SANDBOX_BENCH_FLOOD_SECONDS", 30);
    await floodNeighbours(flood);
    if (Deno.env.get("SANDBOX_BENCH_ONLY") === "flood") return;
    await startLatency(10);
    await memoryPerWorker([1, 10]);
    await steadyState(45);
    await fleet(machines, seconds, warm);
    if (Deno.env.get("SANDBOX_BENCH_V8") === "1" && !isStandalone()) {
      console.log("V8 flag experiment (bare workers, polled at 1 Hz for 30 s):");
      for (
        const flags of [
          [],
          ["--v8-flags=--max-semi-space-size=1"],
          ["--v8-flags=--single-threaded"],
          ["--v8-flags=--lite-mode"],
          ["--v8-flags=--jitless"],
          ["--v8-flags=--max-semi-space-size=1,--single-threaded,--lite-mode"],
        ]
      ) await flagExperiment(flags, 30, 30);
    }
  },
};

if (import.meta.main) await sandboxSuite.run();
