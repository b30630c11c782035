/**
 * kill -9 durability: a writer subprocess enqueues without end and prints each id after its commit
 * returned; it is killed with SIGKILL at a random moment, 20 times on the same data directory. After each
 * kill every printed id must be in buffer.db, every stored row must hash to its id (nothing invented), and
 * the file must pass quick_check. The next round's open also recovers the previous round's in-flight rows.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordId } from "../src/record/mod.ts";
import type { NewRow } from "../src/buffer/store.ts";
import { assert, assertEquals } from "./assert.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { denoScriptArgs } from "./helpers/deno_script.ts";

const WRITER = fileURLToPath(new URL("./processes/buffer_writer.ts", import.meta.url));
const ROUNDS = 20;

async function readUntilKilled(
  child: Deno.ChildProcess,
  killAfterMs: number,
): Promise<string[]> {
  const errReader = child.stderr.getReader();
  const dec = new TextDecoder();
  let err = "";
  while (!err.includes("ready\n")) {
    const { value, done } = await errReader.read();
    if (done) throw new Error(`writer exited before ready: ${err}`);
    err += dec.decode(value);
  }
  errReader.releaseLock();
  const stderrDone = child.stderr.pipeTo(new WritableStream());
  const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  let out = "";
  for await (const chunk of child.stdout) out += dec.decode(chunk, { stream: true });
  clearTimeout(timer);
  await stderrDone;
  const status = await child.status;
  // Windows reports a killed process by exit code, not by signal.
  const killed = status.signal === "SIGKILL" || (Deno.build.os === "windows" && !status.success);
  assert(killed, `writer ended on its own: ${JSON.stringify(status)}`);
  // Only complete lines were printed after a commit; a torn last line is ignored.
  return out.split("\n").slice(0, -1);
}

Deno.test("buffer: every id printed after its commit survives kill -9 (20 random kill points)", async () => {
  await withTempDir(async (dir) => {
    let printedTotal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: denoScriptArgs(WRITER, dir, String(round)),
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).spawn();
      const killAfter = Math.floor(Math.random() * 400);
      const printed = await readUntilKilled(child, killAfter);
      printedTotal += printed.length;
      const db = new DatabaseSync(join(dir, "buffer.db"));
      try {
        assertEquals(
          Object.values(db.prepare("PRAGMA quick_check").get() as Record<string, string>)[0],
          "ok",
        );
        const rows = db.prepare("SELECT id, machine_id, ts, metrics FROM telemetry_buffer")
          .all() as unknown as NewRow[];
        const ids = new Set(rows.map((r) => r.id));
        const missing = printed.filter((id) => !ids.has(id));
        assertEquals(
          missing.length,
          0,
          `round ${round} (kill after ${killAfter} ms): ${missing.length} lost`,
        );
        for (const r of rows) {
          assertEquals(
            recordId({ machine_id: r.machine_id, ts: Number(r.ts), metrics: JSON.parse(r.metrics) }),
            r.id,
          );
        }
      } finally {
        db.close();
      }
    }
    assert(printedTotal > 0, "the writers never got a commit through: the test proved nothing");
  });
});

Deno.test("buffer: after kill -9 the stored cursor is exactly the last committed record (20 kill points)", async () => {
  await withTempDir(async (dir) => {
    for (let round = 0; round < ROUNDS; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: denoScriptArgs(WRITER, dir, String(round), "cursor"),
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).spawn();
      await readUntilKilled(child, 50 + Math.floor(Math.random() * 400));
    }
    const db = new DatabaseSync(join(dir, "buffer.db"), { readOnly: true });
    try {
      const row = db.prepare("SELECT cursor FROM driver_cursor WHERE machine_id = 'cursor-m'").get() as
        | { cursor: string }
        | undefined;
      assert(row, "no cursor was ever committed: the test proved nothing");
      const last = JSON.parse(row.cursor) as number;
      const ns = (db.prepare("SELECT metrics FROM telemetry_buffer WHERE machine_id = 'cursor-m'").all() as {
        metrics: string;
      }[]).map((r) => (JSON.parse(r.metrics) as { n: number }).n).sort((a, b) => a - b);
      // Every round resumed right after the cursor it found: 0..last, each exactly once, nothing past it.
      assertEquals(ns.length, last + 1, `records 0..${last} expected, got ${ns.length}`);
      ns.forEach((n, i) => assertEquals(n, i, `record ${i} missing or repeated`));
      assert(last > 100, `only ${last + 1} records in 20 rounds`);
    } finally {
      db.close();
    }
  });
});
