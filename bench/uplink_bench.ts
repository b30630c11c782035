/**
 * Uplink throughput: `drain` (Uploader.drainNow on a real buffer.db) to the reference ingest on loopback, at
 * batch 100 and 1000, gzip on and off, side by side with the ingest's own saturation rate: the same batches,
 * encoded beforehand, posted by a plain sequential fetch loop. The ingest runs in its own process (as the
 * cloud would), so the agent and the ingest each have a core. Goal: >= 50,000 records/s at batch 1000 and
 * drain/saturation >= 0.8.
 */
import { join } from "node:path";
import { TelemetryBuffer } from "../src/buffer/mod.ts";
import type { UplinkSection } from "../src/config/types.ts";
import { type IdentifiedRecord, makeRecord } from "../src/record/mod.ts";
import { Uploader } from "../src/uplink/mod.ts";
import { encodeBatch } from "../src/wire/protocol.ts";
import type { Suite } from "./mod.ts";
import { denoScriptArgs } from "../tests/helpers/deno_script.ts";

const N = Number(Deno.env.get("UPLINK_BENCH_RECORDS") ?? 100_000);
const ROUNDS = Number(Deno.env.get("UPLINK_BENCH_ROUNDS") ?? 3);
const KEY = "bench-key";

/** ~300 bytes of metrics per record, ids computed. */
function records(n: number): IdentifiedRecord[] {
  const out: IdentifiedRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(makeRecord(`mill-${i % 20}`, 1_700_000_000_000 + i, {
      state: i % 9 ? "running" : "idle",
      program: "O4711",
      spindle_rpm: 8000 + (i % 977),
      spindle_load_pct: 40 + (i % 50) / 3,
      feed_mm_min: 1200.5 + (i % 13),
      feed_override_pct: 100,
      axis_x_mm: (i % 1000) / 7,
      axis_y_mm: (i % 777) / 3,
      axis_z_mm: -((i % 555) / 11),
      part_count: 1000 + i,
      tool_number: 1 + (i % 24),
      coolant_on: true,
      alarms: i % 50 ? [] : [{ code: 1001, text: "door open" }],
    }));
  }
  return out;
}

/** Starts src/ingest/main.ts as its own process with a fresh database. */
async function ingestProcess(dir: string) {
  await Deno.mkdir(dir, { recursive: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: denoScriptArgs(
      new URL("../src/ingest/main.ts", import.meta.url),
      "--db",
      join(dir, "ingest.db"),
      "--api-key-env",
      "BENCH_KEY",
    ),
    env: { BENCH_KEY: KEY },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("ingest process ended early");
    line += value;
  }
  reader.releaseLock();
  const { url } = JSON.parse(line.split("\n")[0]) as { url: string };
  const base = new URL(url).origin;
  return {
    url,
    async unique(): Promise<number> {
      return (await (await fetch(`${base}/_admin/counts`)).json()).unique;
    },
    async close() {
      await child.stdin.close();
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function saturation(
  recs: IdentifiedRecord[],
  batch: number,
  gzip: boolean,
  dir: string,
): Promise<number> {
  const ingest = await ingestProcess(dir);
  try {
    const bodies = [];
    for (let i = 0; i < recs.length; i += batch) {
      bodies.push(encodeBatch("bench", Date.now(), recs.slice(i, i + batch), gzip));
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      authorization: `Bearer ${KEY}`,
    };
    if (gzip) headers["content-encoding"] = "gzip";
    const t0 = performance.now();
    for (const b of bodies) {
      const res = await fetch(ingest.url, { method: "POST", headers, body: b.body });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
    }
    const s = (performance.now() - t0) / 1000;
    if ((await ingest.unique()) !== recs.length) throw new Error("saturation: ingest count mismatch");
    return recs.length / s;
  } finally {
    await ingest.close();
  }
}

async function drainRate(
  recs: IdentifiedRecord[],
  batch: number,
  gzip: boolean,
  dir: string,
): Promise<number> {
  const ingest = await ingestProcess(dir);
  const data = join(dir, "data");
  const buffer = TelemetryBuffer.open(data, { maxRecords: 10_000_000, whenFull: "drop_oldest" });
  try {
    for (const r of recs) buffer.enqueue(r);
    await buffer.flush();
    Deno.env.set("BENCH_KEY", KEY);
    const uplink: UplinkSection = {
      url: ingest.url,
      apiKeyEnv: "BENCH_KEY",
      apiKeyFile: null,
      batchSize: batch,
      timeoutMs: 30_000,
      gzip,
      caFile: null,
      maxBackoffMs: 1_000,
    };
    const uploader = new Uploader(buffer, { agentId: "bench", uplink, dataDir: data });
    const t0 = performance.now();
    const r = await uploader.drainNow(new AbortController().signal);
    const s = (performance.now() - t0) / 1000;
    if (!r.empty || (await ingest.unique()) !== recs.length) {
      throw new Error(`drain incomplete: ${r.problem}`);
    }
    return recs.length / s;
  } finally {
    await buffer.close();
    await ingest.close();
  }
}

/** The uplink benchmark suite. */
export const uplinkSuite: Suite = {
  name: "uplink",
  async run() {
    const recs = records(N);
    const bytes = JSON.stringify(recs[0].metrics).length;
    console.log(
      `${N} records, ~${bytes} bytes of metrics each, best of ${ROUNDS}; ingest in its own process on 127.0.0.1`,
    );
    console.log("batch  gzip  drain rec/s  saturation rec/s  ratio");
    for (const batch of [100, 1000]) {
      for (const gzip of [true, false]) {
        const dir = await Deno.makeTempDir({ prefix: "simco-uplink-bench-" });
        try {
          // Best of ROUNDS, alternating, so a busy neighbour on the machine hurts both sides alike.
          let sat = 0;
          let drn = 0;
          for (let i = 0; i < ROUNDS; i++) {
            sat = Math.max(sat, await saturation(recs, batch, gzip, join(dir, `s${i}`)));
            drn = Math.max(drn, await drainRate(recs, batch, gzip, join(dir, `d${i}`)));
          }
          console.log(
            `${String(batch).padStart(5)}  ${(gzip ? "on" : "off").padEnd(4)}  ${
              Math.round(drn).toLocaleString("en-US").padStart(11)
            }  ${Math.round(sat).toLocaleString("en-US").padStart(16)}  ${(drn / sat).toFixed(2)}`,
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
    }
  },
};
