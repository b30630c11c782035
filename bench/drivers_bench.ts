/**
 * Drivers benchmark: FOCAS machines on the fake FOCAS2 library (tests/fixtures/c/fake_focas.c, built first),
 * each polled at 10 Hz, then as many simulator machines the same way, with this process as their agent: PSS per
 * worker at steady state (goal: FOCAS <= 21 MiB, within 1.5 MiB of the simulator), and CPU per poll on the
 * agent side and in the workers. Several machines per driver (default 10) because PSS splits the pages of the
 * shared executable among the processes using them: one lone worker would count most of Deno's code as its own
 * (a lone FOCAS worker measured 33 MiB PSS, a lone simulator 29 MiB), which is not what a plant runs.
 *
 *   deno task bench drivers                       (10 machines per driver, 1000 warm-up polls, 60 s at 10 Hz)
 *   DRIVERS_BENCH_SECONDS=20 DRIVERS_BENCH_WARM=200 DRIVERS_BENCH_MACHINES=1 deno task bench drivers
 *
 * Linux only for the memory and CPU figures (/proc); the fake library is built with gcc.
 */
import { cpuUsage } from "node:process";
import type { Suite } from "./mod.ts";
import type { MachineConfig } from "../src/config/types.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import { f1, procCpu, silent, sleepUntil, smaps } from "./sandbox_bench.ts";
import { focasMachine, hex, writeControl } from "../tests/helpers/focas_fake.ts";
import { machine as simMachine } from "../tests/helpers/sandbox_machines.ts";

function envNumber(name: string, dflt: number): number {
  const v = Deno.env.get(name);
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got ${v}`);
  return n;
}

async function buildFixtures(): Promise<void> {
  const script = new URL("../tests/build_fixtures.ts", import.meta.url).pathname;
  const { code } = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script] }).output();
  if (code !== 0) {
    throw new Error("drivers bench: building the fake FOCAS2 library failed (is gcc installed?)");
  }
}

/** Polls `ms` machines, each at `hz` for `seconds` after `warm` back-to-back polls; prints their figures. */
async function measure(
  label: string,
  ms: { m: MachineConfig; workDir?: string }[],
  hz: number,
  seconds: number,
  warm: number,
): Promise<number | null> {
  const ws = ms.map(({ m, workDir }) => new MachineWorker(m, { log: silent, workDir }));
  try {
    await Promise.all(ws.map(async (w) => {
      for (let k = 0; k < warm + 1; k++) {
        const o = await w.poll();
        if (o.kind !== "ok") throw new Error(`${label}: warm-up poll failed: ${o.message}`);
      }
    }));
    const pids = ws.map((w) => w.pid!);
    const agent0 = cpuUsage();
    const worker0 = pids.map(procCpu);
    const periodMs = 1000 / hz;
    const base = performance.now() + 100;
    const end = base + seconds * 1000;
    let fails = 0;
    const durations: number[] = [];
    await Promise.all(ws.map(async (w, i) => {
      for (let k = 0;; k++) {
        const due = base + (i * periodMs) / ws.length + k * periodMs;
        if (due >= end) break;
        await sleepUntil(due);
        const o = await w.poll();
        durations.push(o.durationMs);
        if (o.kind !== "ok") fails++;
      }
    }));
    const polls = durations.length;
    const a = cpuUsage(agent0);
    const worker1 = pids.map(procCpu);
    const workerSecs = worker1.every((c, i) => c !== null && worker0[i] !== null)
      ? worker1.reduce((x: number, c, i) => x + c! - worker0[i]!, 0)
      : null;
    const mems = pids.map(smaps);
    const pss = mems.every((m) => m) ? mems.reduce((x, m) => x + m!.pss, 0) / mems.length : null;
    const rss = mems.every((m) => m) ? mems.reduce((x, m) => x + m!.rss, 0) / mems.length : null;
    const recycled = ws.filter((w, i) => w.pid !== pids[i]).length;
    durations.sort((x, y) => x - y);
    console.log(
      `${label}: ${ws.length} machines, each polled at ${hz} Hz for ${seconds} s after ${warm} warm-up polls: ` +
        `${polls} polls, ${fails} failed, ${recycled} workers recycled; round trip median ${
          durations[polls >> 1].toFixed(2)
        } ms`,
    );
    console.log(
      `  per worker: PSS ${f1(pss)} MiB, RSS ${f1(rss)} MiB; CPU per poll: agent ${
        ((a.user + a.system) / polls / 1000).toFixed(3)
      } ms, worker ${workerSecs === null ? "n/a" : (workerSecs * 1000 / polls).toFixed(3)} ms`,
    );
    return pss;
  } finally {
    await Promise.all(ws.map((w) => w.close()));
  }
}

/** The drivers suite for bench/mod.ts. */
export const driversSuite: Suite = {
  name: "drivers",
  async run() {
    const seconds = envNumber("DRIVERS_BENCH_SECONDS", 60);
    const warm = envNumber("DRIVERS_BENCH_WARM", 1000);
    const machines = Math.max(1, Math.round(envNumber("DRIVERS_BENCH_MACHINES", 10)));
    await buildFixtures();
    const dir = await Deno.makeTempDir({ prefix: "simco-bench-focas-" });
    try {
      const latin1 = (s: string) => hex(Uint8Array.from([...s].map((c) => c.charCodeAt(0))));
      await writeControl(dir, {
        run: 3,
        aut: 1,
        speed: 9000,
        feed: 24000,
        feed_dec: 1,
        parts: 100,
        parts_total: 5000,
        program: "O4711",
        spload: 420,
        spload_dec: 1,
        step: 1,
      }, [`6,401,1,${latin1("Überlast Spindel")}`, `3,10,0,${latin1("PROGRAM ERROR")}`]);
      const ids = [...Array(machines).keys()];
      const focas = await measure(
        "focas (fake FOCAS2 library)",
        ids.map((i) => ({ m: focasMachine(`bench-focas-${i}`), workDir: dir })),
        10,
        seconds,
        warm,
      );
      const sim = await measure(
        "simulator",
        ids.map((i) => ({ m: simMachine(`bench-sim-${i}`, { timeoutMs: 5000, options: { seed: i + 1 } }) })),
        10,
        seconds,
        warm,
      );
      if (focas !== null && sim !== null) {
        console.log(
          `  focas worker PSS ${f1(focas)} MiB (goal <= 21), ${f1(focas - sim)} MiB above the simulator's ` +
            `(goal <= 1.5)`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};

if (import.meta.main) await driversSuite.run();
