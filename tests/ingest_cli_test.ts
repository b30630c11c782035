/**
 * `simco-agent ingest` as a user runs it: a real process with stdin at /dev/null, a real agent sending to
 * it, one printed line per batch, SIGTERM, a busy port, bad flags, and a background job of an interactive
 * shell (which must not be stopped for tty input).
 */
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { selfCommand } from "../src/runtime.ts";
import { encodeBatchJson } from "../src/wire/protocol.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { runCli, spawnCollecting } from "./helpers/cli.ts";
import { makeRecords } from "./helpers/uplink_records.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

/** A running `simco-agent ingest` whose stdout and stderr are collected. */
function spawnIngest(args: string[], env: Record<string, string>) {
  const { cmd, args: argv } = selfCommand(["ingest", ...args]);
  const p = spawnCollecting(cmd, { args: argv, env: { NO_COLOR: "1", ...env } });
  return {
    child: p.child,
    stdout: p.stdout,
    done: p.status.then((s) => ({ code: s.code, stdout: p.stdout(), stderr: p.stderr() })),
  };
}

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+\/v1\/telemetry)/;

Deno.test("ingest: stdin at /dev/null, prints each batch of a real agent, SIGTERM prints totals, exit 0", async () => {
  const dir = await tempDir();
  const ing = spawnIngest(["--listen", "127.0.0.1:0", "--db", join(dir.path, "i.db"), "--api-key-env", "K"], {
    K: "ingest-key",
  });
  const url = (await waitFor("listening", 30_000, () => LISTENING.exec(ing.stdout())))![1];
  const plant = await makePlant(
    `[uplink]\nurl = "${url}"\napi_key_file = "api.key"\nmax_backoff = "1s"\n\n` +
      `[[machines]]\nid = "sim-1"\ndriver = "simulator"\ninterval = "100ms"\n`,
    "",
    { offline: true },
  );
  try {
    Deno.writeTextFileSync(join(plant.dir, "api.key"), "ingest-key\n", { mode: 0o600 });
    const agent = plant.startAgent();
    await waitFor(
      "a batch line",
      30_000,
      () => /agent e2e: \d+ record\(s\) received, \d+ new/.test(ing.stdout()),
    );
    const bad = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer wrong" },
      body: encodeBatchJson("e2e", Date.now(), makeRecords(3)),
    });
    await bad.body?.cancel();
    assertEquals(bad.status, 401);
    await waitFor("the refusal line", 10_000, () => ing.stdout().includes("refused with HTTP 401"));
    agent.child.kill("SIGTERM");
    await agent.status;
    ing.child.kill("SIGTERM");
    const r = await ing.done;
    assertEquals(r.code, 0, r.stderr);
    assertMatch(
      r.stdout,
      /ingest: stopped; \d+ request\(s\), \d+ record\(s\) stored, 0 duplicate\(s\), 0 rejected/,
    );
    assertEquals(r.stderr, "");
  } finally {
    try {
      ing.child.kill("SIGKILL");
    } catch { /* exited */ }
    await ing.done;
    await plant.close();
    await dir.cleanup();
  }
});

Deno.test("ingest: a busy port is one line and exit 1; bad flags exit 2; --help documents it", async () => {
  const dir = await tempDir();
  const busy = await startIngest({ dbPath: join(dir.path, "busy.db") });
  try {
    const db = join(dir.path, "i.db");
    const r = await runCli(["ingest", "--listen", `127.0.0.1:${busy.port}`, "--db", db]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr.trim().split("\n"), [
      `simco-agent ingest: error: cannot listen on 127.0.0.1:${busy.port}: the port is already in use ` +
      "(another ingest running? choose another port with --listen)",
    ]);
    const listen = await runCli(["ingest", "--listen", "localhost", "--db", db]);
    assertEquals(listen.code, 2);
    assertStringIncludes(
      listen.stderr,
      '--listen: expected HOST:PORT such as 127.0.0.1:8080 (port 0-65535), got "localhost"',
    );
    const key = await runCli(["ingest", "--db", db, "--api-key-env", "SIMCO_TEST_UNSET_VAR"]);
    assertEquals(key.code, 2);
    assertStringIncludes(key.stderr, "environment variable SIMCO_TEST_UNSET_VAR is not set");
    const noDb = await runCli(["ingest"]);
    assertEquals(noDb.code, 2);
    assertStringIncludes(noDb.stderr, "missing --db FILE");
    for (const out of [r, listen, key, noDb]) assert(!out.stderr.includes("    at "), "no stack trace");
    const help = await runCli(["ingest", "--help"]);
    assertEquals(help.code, 0);
    for (const w of ["--listen HOST:PORT", "--db FILE", "--api-key-env VAR", "is my agent sending?"]) {
      assertStringIncludes(help.stdout, w);
    }
    assertStringIncludes((await runCli(["--help"])).stdout, "ingest");
  } finally {
    await busy.close();
    await dir.cleanup();
  }
});

const haveShell = Deno.build.os === "linux" &&
  ["/usr/bin/script", "/bin/bash"].every((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
if (!haveShell) console.log("ingest background-job test skipped: needs Linux with script(1) and bash");

Deno.test({
  name: "ingest: a background job of an interactive shell keeps running (never reads the tty)",
  ignore: !haveShell,
  async fn() {
    const dir = await tempDir();
    try {
      const { cmd, args } = selfCommand([
        "ingest",
        "--listen",
        "127.0.0.1:0",
        "--db",
        join(dir.path, "i.db"),
      ]);
      const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
      // An interactive bash on a pseudo-terminal (job control on): the ingest is a background job.
      const script = `${
        [cmd, ...args].map(q).join(" ")
      } & sleep 8; jobs -l; kill -TERM %1; wait %1; echo "rc=$?"`;
      const child = new Deno.Command("/usr/bin/script", {
        args: ["-qec", `/bin/bash --norc --noprofile -i -c ${q(script)}`, "/dev/null"],
        env: { NO_COLOR: "1", TERM: "dumb" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let out = "";
      const reading = (async () => {
        for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) out += c;
      })();
      const url = (await waitFor("listening", 30_000, () => LISTENING.exec(out)))![1];
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: encodeBatchJson("bg-agent", Date.now(), makeRecords(5)),
      });
      assertEquals(res.status, 200);
      await res.body?.cancel();
      await waitFor(
        "the batch line",
        10_000,
        () => out.includes("agent bg-agent: 5 record(s) received, 5 new"),
      );
      await waitFor("the job list and the exit", 30_000, () => out.includes("rc="));
      await child.stdin.close();
      await child.status;
      await reading;
      await child.stderr.cancel();
      assertMatch(out, /Running/);
      assert(!/Stopped/.test(out), out);
      assertStringIncludes(out, "rc=0");
    } finally {
      await dir.cleanup();
    }
  },
});
