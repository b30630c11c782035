/**
 * Logs on real files: rotation keeps the size cap and the file count, JSON lines carry the machine id, the api
 * key is redacted wherever it appears, and a full disk (a real tmpfs) gives one stderr line instead of
 * LogTape's internal dump. End to end: the startup line, the summary line, one line per worker failure, and
 * the audit line a manual `drain`, `export` or `upload` leaves in agent.log.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";
import { runCli } from "./helpers/cli.ts";
import { openBuffer, seed } from "./helpers/uplink_env.ts";
import { simMachines } from "./helpers/scenario_util.ts";
import { canMountTmpfs, mount, unmount } from "./helpers/tmpfs.ts";
import { FILE_ONLY, getLog, redactSecret, setupLogging, shutdownLogging } from "../src/log/mod.ts";

/** Runs `fn` with console.error captured. */
async function capturingStderr(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => lines.push(a.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}

Deno.test("logs: rotation keeps every file under the cap and a fixed number of files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const max = 64 * 1024;
    await setupLogging({ level: "info", dataDir: dir, console: false, maxFileBytes: max, maxFiles: 3 });
    const log = getLog("engine");
    const pad = "x".repeat(100);
    for (let i = 0; i < 10_000; i++) log.info(`line ${i} ${pad}`);
    await shutdownLogging();
    const logs = join(dir, "logs");
    const files = [...Deno.readDirSync(logs)].map((e) => e.name).sort();
    assertEquals(files, ["agent.log", "agent.log.1", "agent.log.2", "agent.log.3"]);
    for (const f of files) {
      const size = Deno.statSync(join(logs, f)).size;
      assert(size <= max, `${f} is ${size} bytes, over the ${max} cap`);
    }
    const last = Deno.readTextFileSync(join(logs, "agent.log")).trimEnd().split("\n").at(-1)!;
    assertStringIncludes(last, "line 9999 ");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logs: JSON lines with the machine id; the api key redacted in messages and properties", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key = "k-" + crypto.randomUUID();
    redactSecret(key);
    const stderr = await capturingStderr(async () => {
      await setupLogging({ level: "info", dataDir: dir, format: "json", consoleLevel: "warning" });
      getLog("engine").warn(`machine mill-01: poll failed (timeout): echo ${key}`);
      getLog("worker", "lathe-2").info("driver says hello", { header: `Bearer ${key}` });
      getLog("uplink").info("uplink recovered");
      getLog("cli").info("audit", { [FILE_ONLY]: true });
      await shutdownLogging();
    });
    const file = Deno.readTextFileSync(join(dir, "logs", "agent.log"));
    assert(!file.includes(key) && !stderr.join("\n").includes(key), "key leaked");
    const lines = file.trimEnd().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => [l.level, l.logger, l.machine ?? null]), [
      ["WARN", "simco.engine", "mill-01"],
      ["INFO", "simco.worker.lathe-2", "lathe-2"],
      ["INFO", "simco.uplink", null],
      ["INFO", "simco.cli", null],
    ]);
    assertEquals(lines[1].header, "Bearer [redacted]");
    assertMatch(lines[0].ts, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert(!(FILE_ONLY in lines[3]), "the file-only marker is not printed");
    assertEquals(stderr.length, 1, "console: warnings only, no file-only lines");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "logs: a full disk gives one stderr line, no logtape.meta dump; logging resumes when space returns",
  ignore: !canMountTmpfs(),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "simco-tmpfs-" });
    await mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", root);
    try {
      const ballast = join(root, "ballast");
      const stderr = await capturingStderr(async () => {
        await setupLogging({ level: "info", dataDir: root, console: false, maxFileBytes: 1024 * 1024 });
        const f = await Deno.open(ballast, { write: true, create: true });
        try {
          for (;;) await f.write(new Uint8Array(4096));
        } catch { /* full */ }
        f.close();
        const log = getLog("engine");
        for (let i = 0; i < 2000; i++) log.info(`line ${i} ${"y".repeat(100)}`);
        await Deno.remove(ballast);
        for (let i = 0; i < 200; i++) log.info(`after ${i} ${"z".repeat(100)}`);
        await shutdownLogging();
      });
      const text = stderr.join("\n");
      assert(!/logtape/i.test(text), text);
      assertEquals(stderr.filter((l) => l.includes("cannot write")).length, 1, text);
      assertStringIncludes(text, "is written again");
      assertStringIncludes(Deno.readTextFileSync(join(root, "logs", "agent.log")), "after 199 ");
    } finally {
      await unmount(root);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("logs end to end: startup and summary lines, one line per worker failure, drain's audit line", async () => {
  const plant = await makePlant(
    `[[machines]]\nid = "crashy-1"\ndriver = "simulator"\ninterval = "200ms"\nmax_backoff = "1s"\n` +
      `options = { seed = 3, behaviour = "crash", misbehave_after = 2 }\n`,
    "",
    { agentExtra: 'summary_interval = "1s"' },
  );
  try {
    const agent = plant.startAgent();
    await waitFor("a summary and two worker failures", 30_000, () => {
      const e = agent.stderr();
      return e.includes("summary (last ") && (e.match(/recycled \(crash\)/g) ?? []).length >= 2;
    });
    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0, agent.stderr());
    const err = agent.stderr();
    assertMatch(
      err,
      /INFO simco\.engine: simco-agent \S+ started: agent e2e, config \S+machines\.toml, 1 machine, /,
    );
    assertMatch(err, /summary \(last 1s\): \d+ polls?, \d+ failed; /);
    assert(!err.includes("poll failed"), "a worker failure logged twice (agent and sandbox)");
    assertMatch(err, /stopped: \d+ polls, \d+ records buffered; ran \d/);
    const failures = err.match(/recycled \(crash\)/g)!.length;
    const lines = err.split("\n").filter((l) => l.includes("crashy-1") && / (WARN|ERROR) /.test(l));
    assertEquals(lines.length, failures, `one WARN line per failure:\n${lines.join("\n")}`);

    const d = await runCli(["drain", "--config", plant.config, "--timeout", "30s"], { env: plant.env });
    assertEquals(d.code, 0, d.stderr);
    assert(!d.stderr.includes("manual command"), "the audit line is for agent.log only");
    const file = Deno.readTextFileSync(join(plant.dir, "data", "logs", "agent.log"));
    assertMatch(
      file,
      /INFO simco\.cli: manual command by .+ \(pid \d+\): simco-agent drain --timeout 30s: drain: done, \d+ records? sent, buffer empty; exit 0/,
    );
    assertStringIncludes(file, "started: agent e2e");
  } finally {
    await plant.close();
  }
});

Deno.test("logs: export and upload each leave one audit line with their result, failures and exit 5 included", async () => {
  const plant = await makePlant(simMachines("sim", 1));
  try {
    const data = join(plant.dir, "data");
    const buffer = openBuffer(data);
    await buffer.close();
    const out = join(plant.dir, "site.simco");
    const cli = (args: string[]) => runCli([...args, "--config", plant.config], { env: plant.env });
    const none = await cli(["export", "--out", out]);
    assertEquals([none.code, none.stdout], [5, ""], none.stderr);
    assertStringIncludes(none.stderr, "nothing to export");

    const more = openBuffer(data);
    await seed(more, 30);
    await more.close();
    const ex = await cli(["export", "--out", out]);
    assertEquals(ex.code, 0, ex.stderr);
    assertStringIncludes(ex.stdout, "export: wrote 30 records to ");
    const up = await cli(["upload", out]);
    assertEquals(up.code, 0, up.stderr);
    assertStringIncludes(up.stdout, "upload: 30 records of agent e2e sent from ");
    const missing = await cli(["upload", join(plant.dir, "missing.simco")]);
    assertEquals(missing.code, 1, missing.stderr);
    for (const r of [none, ex, up, missing]) {
      assert(!(r.stdout + r.stderr).includes("manual command"), "the audit line is for agent.log only");
    }

    const audit = Deno.readTextFileSync(join(data, "logs", "agent.log")).split("\n")
      .filter((l) => l.includes("manual command by "));
    assertEquals(audit.length, 4, audit.join("\n"));
    assertMatch(
      audit[0],
      /INFO simco\.cli: manual command by .+ \(pid \d+\): simco-agent export --out \S+site\.simco: simco-agent export: nothing to export .+; exit 5$/,
    );
    assertMatch(
      audit[1],
      /INFO simco\.cli: .+: simco-agent export --out \S+: export: wrote 30 records .+; exit 0$/,
    );
    assertMatch(
      audit[2],
      /INFO simco\.cli: .+: simco-agent upload \S+site\.simco: upload: 30 records .+; exit 0$/,
    );
    assertMatch(audit[3], /WARN simco\.cli: .+: simco-agent upload \S+missing\.simco: .+; exit 1$/);
  } finally {
    await plant.close();
  }
});
