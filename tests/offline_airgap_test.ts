/**
 * The air-gapped plant (docs/offline-transfer.md), end to end with real processes: `run` without
 * `[uplink]`, `export --since-last` (and `--remove`) while collection runs, `upload` on another "PC" with
 * no machines.toml, a real ingest counting every record. Plus the edges: an empty buffer, a removal request
 * that does not match its file, and export killed at random moments.
 */
import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { readBufferStats, readSnapshot } from "../src/buffer/mod.ts";
import { startIngest } from "../src/ingest/mod.ts";
import { readExport } from "../src/offline/export_file.ts";
import { REMOVE_ANSWER_FILE, REMOVE_REQUEST_FILE } from "../src/offline/remove_request.ts";
import { selfCommand } from "../src/runtime.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { type AgentProcess, makePlant, type Plant } from "./helpers/agent.ts";
import { runCli } from "./helpers/cli.ts";
import { holdDataDir } from "./helpers/deno_script.ts";
import { openBuffer, seed } from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

const MACHINES = [1, 2].map((i) =>
  `[[machines]]\nid = "sim-${i}"\ndriver = "simulator"\ninterval = "100ms"\noptions = { seed = ${i} }\n`
).join("\n");

/** Ids in a .simco file (header skipped). */
function fileIds(path: string): string[] {
  const lines = new TextDecoder().decode(gunzipSync(Deno.readFileSync(path))).trimEnd().split("\n");
  return lines.slice(1).map((l) => JSON.parse(l).id);
}

/** Ids in buffer.db, read-only (an independent look, not through the code under test). */
function bufferIds(dataDir: string): string[] {
  if (!existsSync(join(dataDir, "buffer.db"))) return [];
  const db = new DatabaseSync(join(dataDir, "buffer.db"), { readOnly: true });
  try {
    return db.prepare("SELECT id FROM telemetry_buffer").all().map((r) => String((r as { id: string }).id));
  } finally {
    db.close();
  }
}

const queued = (data: string) => readBufferStats(data)?.queued ?? 0;

async function stop(agent: AgentProcess): Promise<void> {
  // Signal handlers are installed once the agent has started (a SIGTERM before that is the default: 143).
  await waitFor("the agent to start", 30_000, () => agent.stderr().includes("no [uplink] configured"));
  await new Promise((r) => setTimeout(r, 300));
  agent.child.kill("SIGTERM");
  const st = await agent.status;
  assertEquals(st.code, 0, agent.stderr());
}

async function offlinePlant(start = true): Promise<{ plant: Plant; data: string; agent: AgentProcess }> {
  const plant = await makePlant(MACHINES, "", { offline: true });
  return { plant, data: join(plant.dir, "data"), agent: start ? plant.startAgent() : null! };
}

Deno.test("run without [uplink] collects and buffers only, and says so at startup, in status and in check", async () => {
  const { plant, data, agent } = await offlinePlant();
  try {
    const check = await runCli(["check", "--config", plant.config]);
    assertEquals(check.code, 0, check.stderr);
    assertStringIncludes(check.stdout, "uplink:    none (offline");
    await waitFor("records buffered", 30_000, () => queued(data) >= 10);
    assertStringIncludes(agent.stderr(), "no [uplink] configured: collecting and buffering only");
    const st = await runCli(["status", "--config", plant.config]);
    assertEquals(st.code, 0, st.stderr);
    assertStringIncludes(st.stdout, "uplink: none (offline; use export)");
    const js = JSON.parse((await runCli(["status", "--config", plant.config, "--json"])).stdout);
    assertEquals([js.running, js.uplink.state, js.uplink.last_error], [true, "none", null]);
    await stop(agent);
    const after = JSON.parse((await runCli(["status", "--config", plant.config, "--json"])).stdout);
    assertEquals([after.running, after.uplink.state], [false, "none"]);
    assert(queued(data) >= 10, "records stay buffered");
    assertEquals(plant.ingest.counts().requests, 0, "nothing is sent anywhere");
  } finally {
    await plant.close();
  }
});

Deno.test("daily routine: export --since-last twice while run collects, upload on another PC: every record once", async () => {
  const { plant, data, agent } = await offlinePlant();
  const office = await Deno.makeTempDir({ prefix: "simco-office-" }); // the other PC: no config, no data dir
  try {
    await waitFor("day 1 records", 30_000, () => queued(data) >= 20);
    const day1 = join(plant.dir, "day1.simco");
    const e1 = await runCli(["export", "--config", plant.config, "--out", day1, "--since-last"]);
    assertEquals(e1.code, 0, e1.stderr);
    assertStringIncludes(e1.stderr, `simco-agent run (pid ${agent.pid}) is active`);
    const ids1 = fileIds(day1);
    await waitFor("day 2 records", 30_000, () => queued(data) >= ids1.length + 20);
    const day2 = join(plant.dir, "day2.simco");
    const e2 = await runCli(["export", "--config", plant.config, "--out", day2, "--since-last", "--remove"]);
    assertEquals(e2.code, 0, e2.stderr);
    const ids2 = fileIds(day2);
    assertStringIncludes(e2.stdout, `removed ${ids2.length} of them from the buffer`);
    assertEquals(ids1.filter((id) => new Set(ids2).has(id)), [], "--since-last never carries a record twice");
    await waitFor("collection goes on after the exports", 30_000, () => queued(data) >= ids1.length + 10);
    await stop(agent);

    // Nothing lost: the buffer still has day 1 (kept) and what came after day 2, never a day-2 record.
    const left = bufferIds(data);
    const inBuffer = new Set(left);
    assert(ids1.every((id) => inBuffer.has(id)), "day 1 was exported without --remove: still buffered");
    assert(ids2.every((id) => !inBuffer.has(id)), "day 2 was removed, and only after its file was verified");
    const day3 = join(plant.dir, "day3.simco");
    assertEquals((await runCli(["export", "--config", plant.config, "--out", day3, "--since-last"])).code, 0);
    const ids3 = fileIds(day3);
    const seen = new Set([...ids1, ...ids3]);
    assertEquals(ids3.length + ids1.length, seen.size, "day 3 repeats nothing of day 1");
    assert(left.every((id) => seen.has(id)), "every buffered record is in exactly one of the files");

    // The office PC: upload both days with --url and --api-key-env, no machines.toml anywhere.
    const url = plant.ingest.url;
    for (const f of [day1, day2]) {
      const up = await runCli(["upload", f, "--url", url, "--api-key-env", "E2E_KEY"], {
        cwd: office,
        env: plant.env,
      });
      assertEquals(up.code, 0, up.stderr);
    }
    const c = plant.ingest.counts();
    assertEquals([c.unique, c.duplicates, c.rejected], [ids1.length + ids2.length, 0, 0]);
    assertEquals(new Set(plant.ingest.ids()), new Set([...ids1, ...ids2]));
    const again = await runCli(["upload", day2, "--url", url, "--api-key-env", "E2E_KEY"], {
      cwd: office,
      env: plant.env,
    });
    assertEquals(again.code, 0, again.stderr);
    assertEquals(plant.ingest.counts().unique, ids1.length + ids2.length, "uploading twice adds nothing");
  } finally {
    await plant.close();
    await Deno.remove(office, { recursive: true }).catch(() => {});
  }
});

Deno.test("export with nothing to export says so, writes no file, exit 5", async () => {
  const { plant, data } = await offlinePlant(false);
  try {
    const none = join(plant.dir, "none.simco");
    const exists = () => Deno.stat(none).then(() => true, () => false);
    const r0 = await runCli(["export", "--config", plant.config, "--out", none]);
    assertEquals(r0.code, 5, r0.stderr);
    assertStringIncludes(r0.stderr, "nothing to export");
    assert(!(await exists()), "no file without a data dir");
    const agent = plant.startAgent();
    await waitFor("records buffered", 30_000, () => queued(data) >= 5);
    await stop(agent);
    const all = join(plant.dir, "all.simco");
    assertEquals((await runCli(["export", "--config", plant.config, "--out", all, "--remove"])).code, 0);
    assertEquals(queued(data), 0);
    for (const flags of [[], ["--since-last"]]) {
      const r = await runCli(["export", "--config", plant.config, "--out", none, ...flags]);
      assertEquals(r.code, 5, r.stderr);
      assertStringIncludes(r.stderr, "nothing to export");
      assertStringIncludes(r.stderr, "no file written");
      assert(!(await exists()), "no file for an empty export");
    }
  } finally {
    await plant.close();
  }
});

Deno.test("the running agent refuses a removal request whose file does not match: nothing deleted", async () => {
  const { plant, data, agent } = await offlinePlant();
  try {
    await waitFor("records buffered", 30_000, () => queued(data) >= 10);
    const file = join(plant.dir, "x.simco");
    assertEquals((await runCli(["export", "--config", plant.config, "--out", file])).code, 0);
    const before = queued(data);
    const id = crypto.randomUUID();
    Deno.writeTextFileSync(
      join(data, REMOVE_REQUEST_FILE),
      JSON.stringify({ id, pid: 1, file, sha256: "0".repeat(64), count: 1 }),
    );
    await waitFor("the agent's answer", 20_000, () => {
      try {
        const a = JSON.parse(Deno.readTextFileSync(join(data, REMOVE_ANSWER_FILE)));
        return a.request_id === id && a.state === "failed";
      } catch {
        return false;
      }
    });
    assert(queued(data) >= before, "nothing was removed");
    assert(fileIds(file).every((x) => new Set(bufferIds(data)).has(x)));
    await stop(agent);
    assertStringIncludes(
      agent.stderr(),
      "is not the file that was exported (SHA-256 differs); nothing removed",
    );
  } finally {
    await plant.close();
  }
});

/** Starts `export --out out --remove` and SIGKILLs it after `ms` (it may have finished by then). */
async function exportKilledAfter(config: string, cwd: string, out: string, ms: number): Promise<void> {
  const { cmd, args } = selfCommand(["export", "--config", config, "--out", out, "--remove"]);
  const child = new Deno.Command(cmd, {
    args,
    env: { NO_COLOR: "1", INIT_CWD: cwd },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* finished already */ }
  }, ms);
  await child.status;
  clearTimeout(timer);
}

/** Ids of every complete export file among `files`; a file under its final name must verify. */
async function idsInFiles(files: string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const f of files) {
    if (!(await Deno.stat(f).then(() => true, () => false))) continue;
    await readExport(f, 10_000); // throws for a truncated or altered file
    for (const id of fileIds(f)) ids.add(id);
  }
  return ids;
}

Deno.test("export --remove killed at random moments (no run): every record in the buffer or a complete file", async () => {
  const dir = await tempDir();
  try {
    const data = join(dir.path, "data");
    const cfg = join(dir.path, "p.toml");
    Deno.writeTextFileSync(cfg, `[agent]\nid = "k"\ndata_dir = "data"\n${MACHINES}`);
    const ever: string[] = [];
    const files: string[] = [];
    for (let i = 0; i < 5; i++) {
      const left = bufferIds(data).length;
      if (left < 40_000) { // refill (new timestamps: new records) so each kill can land mid-export
        const buffer = openBuffer(data);
        ever.push(
          ...(await seed(buffer, 60_000 - left, "mill-01", 1_700_000_000_000 + i * 1_000_000)).map((r) =>
            r.id
          ),
        );
        await buffer.close();
      }
      const out = join(dir.path, `k${i}.simco`);
      files.push(out);
      // Startup takes about 0.5 s and an export of 60,000 records a few seconds more here.
      await exportKilledAfter(cfg, dir.path, out, 600 + Math.random() * 2400);
      const inFiles = await idsInFiles(files);
      const buffered = new Set(bufferIds(data));
      const lost = ever.filter((id) => !buffered.has(id) && !inFiles.has(id));
      assertEquals(lost.length, 0, `after kill ${i}: a record is in the buffer or in a complete file`);
    }
  } finally {
    await dir.cleanup();
  }
});

Deno.test("export --remove and the agent killed at random moments while run collects: nothing lost", async () => {
  const { plant, data, agent } = await offlinePlant();
  try {
    await waitFor("records buffered", 30_000, () => queued(data) >= 30);
    const ever = new Set<string>();
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const id of bufferIds(data)) ever.add(id);
      const out = join(plant.dir, `k${i}.simco`);
      files.push(out);
      await exportKilledAfter(plant.config, plant.dir, out, 300 + Math.random() * 1500);
      if (i === 1) {
        // The agent killed too (a removal it took up may be midway), then started again.
        agent.child.kill("SIGKILL");
        await agent.status;
        plant.startAgent();
      }
    }
    await new Promise((r) => setTimeout(r, 1500)); // a removal the agent took up finishes
    for (const id of bufferIds(data)) ever.add(id);
    const inFiles = await idsInFiles(files);
    const buffered = new Set(bufferIds(data));
    const lost = [...ever].filter((id) => !buffered.has(id) && !inFiles.has(id));
    assertEquals(lost, [], "a record is in the buffer or in a complete file");
  } finally {
    await plant.close();
  }
});

Deno.test("--since-last after every exported row was removed: new rows that reuse their seqs are still new", async () => {
  const dir = await tempDir();
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    const first = await seed(buffer, 50, "mill-01", 1_700_000_000_000);
    const got: string[] = [];
    const snap1 = readSnapshot(data, null, (c) => got.push(...c.map((r) => r.id)));
    assertEquals(got, first.map((r) => r.id));
    // --remove of everything: the newest row goes too, so SQLite hands the next rows the same seqs.
    assertEquals(buffer.removeQueued(first.map((r) => ({ ts: r.ts, id: r.id }))), 50);
    await new Promise((r) => setTimeout(r, 5)); // enqueue time after the mark's
    const second = await seed(buffer, 30, "mill-01", 1_800_000_000_000);
    const got2: string[] = [];
    readSnapshot(data, snap1.mark, (c) => got2.push(...c.map((r) => r.id)));
    assertEquals(got2, second.map((r) => r.id), "rows with reused seqs are exported");
    // While the mark's row is still there, only newer seqs count (no time needed).
    const snap3 = readSnapshot(data, null, () => {});
    const third = await seed(buffer, 10, "mill-01", 1_900_000_000_000);
    const got3: string[] = [];
    readSnapshot(data, snap3.mark, (c) => got3.push(...c.map((r) => r.id)));
    assertEquals(got3, third.map((r) => r.id));
    await buffer.close();
  } finally {
    await dir.cleanup();
  }
});

Deno.test("upload on a PC with a config holding only [uplink], or none; flags override; one line for mistakes", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "office-key" });
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    const recs = await seed(buffer, 250);
    await buffer.close();
    const cfg = join(dir.path, "p.toml");
    Deno.writeTextFileSync(cfg, `[agent]\nid = "cell9"\ndata_dir = "data"\n${MACHINES}`);
    const file = join(dir.path, "f.simco");
    assertEquals((await runCli(["export", "--config", cfg, "--out", file])).code, 0);
    const office = join(dir.path, "office.toml");
    Deno.writeTextFileSync(
      office,
      `[uplink]\nurl = "${ingest.url}"\napi_key_env = "OFFICE_KEY"\nbatch_size = 40\n`,
    );
    const env = { OFFICE_KEY: "office-key", OTHER_KEY: "wrong" };
    const ok = await runCli(["upload", file, "--config", office], { env });
    assertEquals(ok.code, 0, ok.stderr);
    assertStringIncludes(ok.stdout, "250 records of agent cell9 sent");
    assertEquals(
      ingest.counts().requests,
      Math.ceil(250 / 40),
      "batch_size of the [uplink]-only file is used",
    );
    const override = await runCli(["upload", file, "--config", office, "--api-key-env", "OTHER_KEY"], {
      env,
    });
    assertEquals(override.code, 1, "the flag replaces the file's key");
    assertStringIncludes(override.stderr, "HTTP 401");
    const cases: [string[], string][] = [
      [[], "missing --url URL (or --config FILE with an [uplink] url;"],
      [["--url", "ftp://x"], 'command line: --url: expected an http:// or https:// URL, got "ftp://x"'],
      [["--url", ingest.url, "--api-key-env", "NOT_SET_ANYWHERE"], "environment variable NOT_SET_ANYWHERE"],
    ];
    for (const [flags, msg] of cases) {
      const r = await runCli(["upload", file, ...flags], { env });
      assertEquals(r.code, 2, r.stderr);
      assertStringIncludes(r.stderr, msg);
      assert(!r.stderr.includes("    at "), "no stack trace");
    }
    Deno.writeTextFileSync(office, `[uplink]\nurl = "${ingest.url}"\n[machine]\n`);
    const bad = await runCli(["upload", file, "--config", office], { env });
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, "office.toml:3: machine:");
    assertEquals(new Set(ingest.ids()), new Set(recs.map((r) => r.id)));
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});

Deno.test("export --remove beside a lock holder that never answers: exit 1 after 15 s, or Ctrl-C withdraws the request", async () => {
  const dir = await tempDir();
  const data = join(dir.path, "data");
  const buffer = openBuffer(data);
  await seed(buffer, 100);
  await buffer.close();
  const cfg = join(dir.path, "p.toml");
  Deno.writeTextFileSync(cfg, `[agent]\nid = "k"\ndata_dir = "data"\n${MACHINES}`);
  const holder = await holdDataDir(data);
  try {
    const slow = await runCli(["export", "--config", cfg, "--out", join(dir.path, "a.simco"), "--remove"]);
    assertEquals(slow.code, 1, slow.stderr);
    assertStringIncludes(
      slow.stderr,
      "the records were NOT removed from the buffer: the running agent did not take up",
    );
    assertEquals(fileIds(join(dir.path, "a.simco")).length, 100, "the file is complete");

    const { cmd, args } = selfCommand([
      "export",
      "--config",
      cfg,
      "--out",
      join(dir.path, "b.simco"),
      "--remove",
    ]);
    const child = new Deno.Command(cmd, {
      args,
      env: { NO_COLOR: "1", INIT_CWD: dir.path },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitFor("the removal request", 30_000, () => existsSync(join(data, REMOVE_REQUEST_FILE)));
    child.kill("SIGINT");
    const out = await child.output();
    assertEquals(out.code, 1);
    assertStringIncludes(new TextDecoder().decode(out.stderr), "NOT removed from the buffer: interrupted");
    assert(!existsSync(join(data, REMOVE_REQUEST_FILE)), "the request is withdrawn");
    assertEquals(bufferIds(data).length, 100, "nothing removed");
  } finally {
    await holder.release();
    await dir.cleanup();
  }
});
