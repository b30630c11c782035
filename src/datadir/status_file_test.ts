import { assert, assertEquals } from "../../tests/assert.ts";
import { dataDirPaths } from "./mod.ts";
import { emptyUplink, isStale, readStatusDocument, StatusWriter } from "./status_file.ts";

Deno.test("status document: the next holder carries the counters on; no temporary file is left", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(readStatusDocument(dir), null);
    const problems: (string | null)[] = [];
    const w1 = new StatusWriter(dir, "run", (m) => problems.push(m));
    assertEquals(w1.previous, null);
    await w1.write({
      uplink: { ...emptyUplink(), sent_total: 7, last_success_ts: 5 },
      machines: [{ id: "m1", polls_total: 3, failures_total: 1, worker_restarts: { crash: 1 } }],
    });
    const w2 = new StatusWriter(dir, "drain");
    assertEquals(w2.previous?.uplink.sent_total, 7);
    assertEquals(w2.previous?.pid, Deno.pid);
    await w2.writeUplinkOnly({ sent: 4, lastSuccessTs: 9 });
    const doc = readStatusDocument(dir)!;
    assertEquals(doc.command, "drain");
    assertEquals(doc.uplink.sent_total, 11);
    assertEquals(doc.uplink.last_success_ts, 9);
    assertEquals(doc.machines[0].worker_restarts, { crash: 1 }, "machines kept by a standalone command");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["status.json"]);
    assertEquals(problems, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("status document: a failing write is reported once per episode and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const problems: (string | null)[] = [];
    const w = new StatusWriter(dir, "run", (m) => problems.push(m));
    Deno.mkdirSync(dataDirPaths(dir).status); // a folder where the file should go: rename fails
    const parts = { uplink: emptyUplink(), machines: [] };
    await w.write(parts);
    await w.write(parts);
    assertEquals(problems.length, 1);
    assert(problems[0] !== null);
    assert(w.failing);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["status.json"]);
    Deno.removeSync(dataDirPaths(dir).status);
    await w.write(parts);
    assertEquals(problems.length, 2);
    assertEquals(problems[1], null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("status document: stale only when the holder is alive and the document is older than 5 intervals", () => {
  const doc = {
    version: "x",
    pid: 1,
    command: "run",
    started_at: 0,
    updated_at: 100_000,
    write_interval_ms: 1000,
    uplink: emptyUplink(),
    machines: [],
  };
  assertEquals(isStale(doc, true, 105_000), false);
  assertEquals(isStale(doc, true, 110_001), true);
  assertEquals(isStale(doc, false, 999_999), false, "no holder: a stopped agent, not a stale one");
  assertEquals(isStale({ ...doc, write_interval_ms: 5000 }, true, 120_000), false);
  assertEquals(isStale(null, true, 0), false);
});

Deno.test("status document: a file of an older version (no version, no command) reads with defaults", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.writeTextFileSync(
      dataDirPaths(dir).status,
      JSON.stringify({
        pid: 3,
        started_at: 1,
        updated_at: 2,
        uplink: { state: "ok", sent_total: 5 },
        machines: [],
      }),
    );
    const d = readStatusDocument(dir)!;
    assertEquals([d.version, d.command, d.uplink.sent_total, d.uplink.drain], ["unknown", "run", 5, null]);
    Deno.writeTextFileSync(dataDirPaths(dir).status, "{broken");
    assertEquals(readStatusDocument(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
