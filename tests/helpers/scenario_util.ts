/**
 * Helpers for tests/scenarios_test.ts: simulated machines with a per-test tag in their ids (so a test can find
 * its own worker processes, orphans included), the ids an agent printed as buffered, `status --json`, a
 * seeded random source, and tmpfs mounts for the disk-full scenario.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Plant } from "./agent.ts";
import { liveProcesses } from "./proc.ts";
import { runCli } from "./cli.ts";
import { seededRandom as prng } from "../../drivers/simulator/random.ts";
import type { IdentifiedRecord } from "../../src/record/mod.ts";
import type { StatusJson } from "../../src/engine/status.ts";

export { prng };

/** `n` healthy simulator machines `<tag>-1..n`, intervals spread from `minMs` to `maxMs`. */
export function simMachines(tag: string, n: number, minMs = 100, maxMs = 200): string {
  return Array.from({ length: n }, (_, i) => {
    const ms = n === 1 ? minMs : Math.round(minMs + ((maxMs - minMs) * i) / (n - 1));
    return `[[machines]]\nid = "${tag}-${i + 1}"\ndriver = "simulator"\ninterval = "${ms}ms"\n` +
      `options = { seed = ${i + 1} }\n`;
  }).join("\n");
}

/** A short random tag usable in machine ids. */
export function randomTag(prefix: string): string {
  return `${prefix}${crypto.randomUUID().slice(0, 8)}`;
}

const BUFFERED = /DEBUG simco\.engine: machine \S+: buffered ([0-9a-f]{64})/g;

/** Ids an agent's stderr (log level debug) reports as committed to the buffer. */
export function printedIds(stderr: string): string[] {
  return [...stderr.matchAll(BUFFERED)].map((m) => m[1]);
}

/**
 * Pids of live `__worker` processes whose machine id starts with `tag-`, whoever their parent is now
 * (a worker orphaned by a kill -9 of its agent is re-parented). Linux /proc; empty elsewhere.
 */
export function workersOf(tag: string): number[] {
  return liveProcesses().filter(({ argv }) => {
    const i = argv.indexOf("--machine");
    return argv.includes("__worker") && i >= 0 && argv[i + 1]?.startsWith(`${tag}-`);
  }).map((p) => p.pid);
}

/** The `status --json` document. */
export type { StatusJson };

/** Runs `status --json` on the plant; throws with its stderr when it fails. */
export async function statusJson(plant: Plant): Promise<StatusJson> {
  const r = await runCli(["status", "--config", plant.config, "--json"], { env: plant.env });
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** `{id, machine_id, ts}` of every record the plant's ingest stored (read from its SQLite file). */
export function ingestRows(plant: Pick<Plant, "dir">): Omit<IdentifiedRecord, "metrics">[] {
  const db = new DatabaseSync(join(plant.dir, "ingest.db"), { readOnly: true });
  try {
    return db.prepare("SELECT id, machine_id, ts FROM records").all() as Omit<IdentifiedRecord, "metrics">[];
  } finally {
    db.close();
  }
}

/** The metrics of every record of `machineId` the ingest in `dir` stored, in ts order. */
export function ingestMetrics(dir: string, machineId: string): Record<string, unknown>[] {
  const db = new DatabaseSync(join(dir, "ingest.db"), { readOnly: true });
  try {
    const rows = db.prepare("SELECT metrics FROM records WHERE machine_id = ? ORDER BY ts").all(machineId);
    return rows.map((r) => JSON.parse(String((r as { metrics: string }).metrics)));
  } finally {
    db.close();
  }
}
