/**
 * Offline transfer through the real CLI: export, upload twice, drain the same records, corrupted and
 * truncated files refused, `--remove`. The ingest is the real reference server on loopback.
 */
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { readBufferStats } from "../src/buffer/mod.ts";
import { startIngest } from "../src/ingest/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import { keyFile, openBuffer, seed, writeConfig } from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const left = (data: string) => {
  const s = readBufferStats(data)!;
  return s.queued + s.in_flight;
};

Deno.test("export keeps records queued; uploading twice and draining them creates no duplicates", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "secret-k" });
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    const recs = await seed(buffer, 1500);
    await buffer.close();
    keyFile(dir.path, "secret-k");
    const cfg = writeConfig(dir.path, ingest.url);
    const file = join(dir.path, "site.simco");

    const ex = await runCli(["export", "--config", cfg, "--out", file]);
    assertEquals(ex.code, 0, ex.stderr);
    assertStringIncludes(ex.stdout, "wrote 1500 records");
    assertEquals(left(data), 1500, "export without --remove keeps every record queued");
    const lines = new TextDecoder().decode(gunzipSync(Deno.readFileSync(file))).trimEnd().split("\n");
    const header = JSON.parse(lines[0]);
    assertEquals([header.format, header.agent_id, header.count], ["simco-export", "plant-test", 1500]);
    assertEquals(lines.length, 1501);

    const up1 = await runCli(["upload", file, "--config", cfg]);
    assertEquals(up1.code, 0, up1.stderr);
    assertStringIncludes(up1.stdout, "1500 records of agent plant-test sent");
    const up2 = await runCli(["upload", file, "--config", cfg]);
    assertEquals(up2.code, 0, up2.stderr);
    const dr = await runCli(["drain", "--config", cfg]);
    assertEquals(dr.code, 0, dr.stderr);
    assertStringIncludes(dr.stdout, "buffer empty");
    const c = ingest.counts();
    assertEquals([c.unique, c.duplicates, c.rejected], [1500, 3000, 0]);
    assertEquals(new Set(ingest.ids()), new Set(recs.map((r) => r.id)));
    assertEquals(left(data), 0);
    assert(!(up1.stdout + up1.stderr + dr.stdout + dr.stderr).includes("secret-k"), "api key leaked");
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});

Deno.test("truncated, altered or foreign files are refused with one line, nothing sent", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "k" });
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    await seed(buffer, 400);
    await buffer.close();
    keyFile(dir.path, "k");
    const cfg = writeConfig(dir.path, ingest.url);
    const file = join(dir.path, "a.simco");
    assertEquals((await runCli(["export", "--config", cfg, "--out", file, "--remove"])).code, 0);
    assertEquals(left(data), 0, "--remove deletes the exported records once the file is verified");
    const again = await runCli(["export", "--config", cfg, "--out", file]);
    assertEquals(again.code, 2);
    assertStringIncludes(again.stderr, "already exists");

    const bytes = Deno.readFileSync(file);
    const truncated = join(dir.path, "truncated.simco");
    Deno.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const text = new TextDecoder().decode(gunzipSync(bytes));
    const altered = join(dir.path, "altered.simco");
    Deno.writeFileSync(altered, gzipSync(text.replace('"spindle_rpm":1007', '"spindle_rpm":9007')));
    const flipped = join(dir.path, "flipped.simco");
    const f = bytes.slice();
    f[Math.floor(f.length / 2)] ^= 0xff;
    Deno.writeFileSync(flipped, f);
    const foreign = join(dir.path, "foreign.simco");
    Deno.writeFileSync(foreign, gzipSync('{"hello":1}\n'));
    const cases: [string, RegExp][] = [
      [truncated, /truncated/],
      [altered, /altered|damaged/],
      [flipped, /truncated|altered|damaged|gzip/],
      [foreign, /not a \.simco export/],
      [join(dir.path, "missing.simco"), /file not found/],
    ];
    for (const [path, re] of cases) {
      const r = await runCli(["upload", path, "--config", cfg]);
      assertEquals(r.code, 1, `${path}: ${r.stderr}`);
      const errLines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("upload:"));
      assertEquals(errLines.length, 1, r.stderr);
      assert(re.test(errLines[0]), errLines[0]);
      assert(!r.stderr.includes("    at "), "no stack trace");
    }
    assertEquals(ingest.counts().requests, 0, "nothing is sent from a bad file");
    const ok = await runCli(["upload", file, "--config", cfg]);
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(ingest.counts().unique, 400);
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});

Deno.test("upload: records the cloud rejects are written next to the file (exit 4), the rest arrive", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({
    dbPath: join(dir.path, "ingest.db"),
    apiKey: "k-upload",
    rejectMode: "list",
  });
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    const recs = await seed(buffer, 300);
    await buffer.close();
    keyFile(dir.path, "k-upload");
    const cfg = writeConfig(dir.path, ingest.url);
    const file = join(dir.path, "r.simco");
    assertEquals((await runCli(["export", "--config", cfg, "--out", file])).code, 0);
    ingest.inject({ kind: "reject_id", id: recs[42].id, reason: "unknown machine" });
    const r = await runCli(["upload", file, "--config", cfg]);
    assertEquals(r.code, 4, r.stderr);
    assertStringIncludes(r.stderr, `1 record rejected by the cloud, listed in ${file}.rejected.ndjson`);
    const rejected = Deno.readTextFileSync(`${file}.rejected.ndjson`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(rejected.length, 1);
    assertEquals(rejected[0].record.id, recs[42].id);
    assertStringIncludes(rejected[0].reason, "unknown machine");
    assertEquals(ingest.counts().unique, 299);
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});
