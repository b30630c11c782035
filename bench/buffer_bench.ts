/**
 * Buffer benchmark (`deno task bench buffer`). In one run, on the same machine and disk:
 * - enqueue throughput through TelemetryBuffer (group commit, synchronous=FULL), ~300-byte metrics, with the
 *   ids computed in the timed loop (makeRecord) and without;
 * - claim + ack throughput (batches of 1000 and of 100, the uplink's default batch size);
 * - the sqlite3 CLI inserting the same rows in 1000-row transactions into the same schema (ordered keys), as
 *   the near-physical reference, and the ratios;
 * - the design check: the same rows with the SHA-256 id as a random-order UNIQUE key;
 * - startup with 1,000,000 queued and 10,000 stale in-flight records;
 * - file size before and after draining those records (space returned by incremental vacuum).
 * SIMCO_BENCH_RECORDS scales the throughput runs (default 200000); SIMCO_BENCH_STARTUP the big buffer.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Suite } from "./mod.ts";
import { fileBytes, TelemetryBuffer } from "../src/buffer/mod.ts";
import { CONNECTION_PRAGMAS, SCHEMA_V1_SQL } from "../src/buffer/schema.ts";
import { type IdentifiedRecord, makeRecord, type Metrics } from "../src/record/mod.ts";

const N = Number(Deno.env.get("SIMCO_BENCH_RECORDS") ?? 200_000);
const BIG = Number(Deno.env.get("SIMCO_BENCH_STARTUP") ?? 1_000_000);
const STALE = 10_000;
const T0 = 1_795_000_000_000;

function metrics(i: number): Metrics {
  return {
    spindle_rpm: 12000 + (i % 997),
    spindle_load: 41.5,
    feed_rate: 350.25,
    program: "O1234-PART-A",
    mode: "auto",
    alarm: null,
    axis: { x: 10.123 + i % 13, y: -5.5, z: 0.001 },
    temps: [45.1, 46.2, 47.3],
    tool: 12,
    part_count: i,
    door_open: false,
    emergency_stop: false,
    notes: "running job 42 on cell 3",
  };
}

/** The i-th benchmark reading: 8 machines, one reading per machine every 10 ms. */
function reading(i: number): [string, number, Metrics] {
  return [`mill-0${i % 8}`, T0 + Math.floor(i / 8) * 10, metrics(i)];
}

function rate(n: number, ms: number): string {
  return `${Math.round(n / (ms / 1000)).toLocaleString("en-US")} records/s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function enqueueAll(b: TelemetryBuffer, recs: readonly IdentifiedRecord[]): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const r of recs) waits.push(b.enqueue(r));
  await b.flush();
  await Promise.all(waits);
}

function sqlQuote(s: string): string {
  return "'" + s.replaceAll("'", "''") + "'";
}

function findSqlite3(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(Deno.build.os === "windows" ? ";" : ":")) {
    for (const name of ["sqlite3", "sqlite3.exe"]) {
      try {
        if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
      } catch { /* not here */ }
    }
  }
  return null;
}

async function sqliteCliReference(dir: string, recs: readonly IdentifiedRecord[]): Promise<number | null> {
  const exe = findSqlite3();
  if (!exe) {
    console.log("sqlite3 CLI reference      skipped: no sqlite3 on PATH (Debian: apt-get install sqlite3)");
    return null;
  }
  const db = join(dir, "reference.db");
  const parts = [
    "PRAGMA auto_vacuum = INCREMENTAL;",
    CONNECTION_PRAGMAS,
    SCHEMA_V1_SQL,
  ];
  const now = Date.now();
  for (let i = 0; i < recs.length; i += 1000) {
    parts.push("BEGIN;");
    for (const r of recs.slice(i, i + 1000)) {
      parts.push(
        `INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, enqueued_at) VALUES (${
          sqlQuote(r.id)
        }, ${sqlQuote(r.machine_id)}, ${r.ts}, ${sqlQuote(JSON.stringify(r.metrics))}, ${now});`,
      );
    }
    parts.push("COMMIT;");
  }
  const script = join(dir, "reference.sql");
  await Deno.writeTextFile(script, parts.join("\n"));
  const t = performance.now();
  const out = await new Deno.Command(exe, { args: [db, `.read ${script}`], stdout: "null", stderr: "piped" })
    .output();
  const ms = performance.now() - t;
  if (!out.success) {
    console.log(`sqlite3 CLI reference      failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    return null;
  }
  const check = new DatabaseSync(db, { readOnly: true });
  const n = Number((check.prepare("SELECT count(*) AS n FROM telemetry_buffer").get() as { n: number }).n);
  check.close();
  console.log(
    `sqlite3 CLI reference      ${rate(n, ms)}  (${exe}, same schema and pragmas, 1000-row transactions)`,
  );
  return n / (ms / 1000);
}

function randomKeyDesignCheck(dir: string, recs: readonly IdentifiedRecord[]): void {
  const path = join(dir, "random-key.db");
  const db = new DatabaseSync(path);
  db.exec(
    CONNECTION_PRAGMAS + SCHEMA_V1_SQL.replace("ON telemetry_buffer(ts, id)", "ON telemetry_buffer(id)"),
  );
  const ins = db.prepare(
    "INSERT OR IGNORE INTO telemetry_buffer(id, machine_id, ts, metrics, enqueued_at) VALUES (?, ?, ?, ?, ?)",
  );
  const t = performance.now();
  for (let i = 0; i < recs.length; i += 1000) {
    db.exec("BEGIN");
    for (const r of recs.slice(i, i + 1000)) ins.run(r.id, r.machine_id, r.ts, JSON.stringify(r.metrics), T0);
    db.exec("COMMIT");
  }
  const ms = performance.now() - t;
  db.close();
  console.log(
    `design check: UNIQUE(id)   ${
      rate(recs.length, ms)
    }  (same inserts, random SHA-256 key index, node:sqlite)`,
  );
}

async function throughput(dir: string): Promise<void> {
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };
  // Ids computed inside the timed loop.
  let b = TelemetryBuffer.open(join(dir, "a"), { maxRecords: 10 * N, whenFull: "drop_oldest", log: quiet });
  let t = performance.now();
  const recs: IdentifiedRecord[] = [];
  const waits: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const r = makeRecord(...reading(i));
    recs.push(r);
    waits.push(b.enqueue(r));
  }
  await b.flush();
  await Promise.all(waits);
  const withIds = rate(N, performance.now() - t);
  const recordBytes = JSON.stringify(recs[0].metrics).length;
  await b.close();
  // Ids already computed: the buffer alone.
  b = TelemetryBuffer.open(join(dir, "b"), { maxRecords: 10 * N, whenFull: "drop_oldest", log: quiet });
  t = performance.now();
  await enqueueAll(b, recs);
  const enqMs = performance.now() - t;
  const enqRate = N / (enqMs / 1000);
  console.log(`records: ${N.toLocaleString("en-US")}, metrics ${recordBytes} bytes of JSON, 8 machines`);
  console.log(`enqueue (makeRecord + id)  ${withIds}`);
  console.log(`enqueue (ids precomputed)  ${rate(N, enqMs)}`);
  const claimRates: [number, number][] = [];
  for (const batch of [1000, 100]) {
    const half = batch === 1000 ? Math.floor(N / 2) : N - Math.floor(N / 2);
    t = performance.now();
    let n = 0;
    while (n < half) {
      const c = b.claim(Math.min(batch, half - n));
      if (!c.length) break;
      b.ack(c.map((r) => r.id));
      n += c.length;
    }
    const ms = performance.now() - t;
    console.log(`claim+ack (batch ${String(batch).padEnd(4)})    ${rate(n, ms)}`);
    claimRates.push([batch, n / (ms / 1000)]);
  }
  await b.close();
  const ref = await sqliteCliReference(dir, recs);
  if (ref) {
    console.log(`ratio enqueue / sqlite3    ${(enqRate / ref).toFixed(2)} (ids precomputed)`);
    for (const [batch, r] of claimRates) {
      console.log(`ratio claim+ack(${batch}) / sqlite3 insert ${(r / ref).toFixed(2)}`);
    }
  }
  randomKeyDesignCheck(dir, recs.slice(0, Math.min(N, 100_000)));
}

async function startupAndSpace(dir: string): Promise<void> {
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };
  const data = join(dir, "big");
  const opts = { maxRecords: BIG * 2, whenFull: "drop_oldest" as const, log: quiet };
  let b = TelemetryBuffer.open(data, opts);
  const CH = 50_000;
  for (let i = 0; i < BIG + STALE; i += CH) {
    const recs: IdentifiedRecord[] = [];
    for (let j = i; j < Math.min(i + CH, BIG + STALE); j++) recs.push(makeRecord(...reading(j + 10 * N)));
    await enqueueAll(b, recs);
  }
  for (let n = 0; n < STALE; n += 1000) b.claim(1000); // claimed, never acked: stale after the "crash"
  await b.close();
  const full = fileBytes(join(data, "buffer.db"));
  const t = performance.now();
  b = TelemetryBuffer.open(data, opts);
  const openMs = performance.now() - t;
  const first = b.claim(100);
  const readyMs = performance.now() - t;
  const s = b.stats();
  console.log(
    `startup with ${BIG.toLocaleString("en-US")} queued + ${
      STALE.toLocaleString("en-US")
    } stale in-flight: ` +
      `open ${openMs.toFixed(0)} ms, first claim of ${first.length} at ${readyMs.toFixed(0)} ms ` +
      `(queued ${s.queued - 0 + first.length}, in flight ${s.in_flight - first.length} before the claim)`,
  );
  b.ack(first.map((r) => r.id));
  const td = performance.now();
  for (;;) {
    const c = b.claimRaw(1000); // as the uploader does: metrics stay JSON text
    if (!c.length) break;
    b.ack(c.map((r) => r.id));
  }
  const drainMs = performance.now() - td;
  const drained = fileBytes(join(data, "buffer.db"));
  await b.close();
  const closed = fileBytes(join(data, "buffer.db"));
  console.log(
    `space: ${mib(full)} with ${(BIG + STALE).toLocaleString("en-US")} records; ${
      mib(drained)
    } right after ` +
      `draining them (claimRaw+ack ${rate(BIG + STALE, drainMs)}); ${mib(closed)} after close (checkpoint)`,
  );
}

/** The buffer benchmark suite. */
export const bufferSuite: Suite = {
  name: "buffer",
  async run() {
    const dir = await Deno.makeTempDir({ prefix: "simco-buffer-bench-" });
    try {
      console.log(`SQLite ${sqliteVersion()}, WAL, synchronous=FULL for new records, temp dir ${dir}`);
      console.log(
        `load average at start: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")} (2 cores shared)`,
      );
      await throughput(dir);
      await startupAndSpace(dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};

function sqliteVersion(): string {
  const db = new DatabaseSync(":memory:");
  const v = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  db.close();
  return v;
}

if (import.meta.main) await bufferSuite.run();
