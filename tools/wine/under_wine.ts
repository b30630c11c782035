/**
 * `deno task test:windows`: the Windows bundle under Wine, the closest thing to Windows this machine has
 * (INSTALL.md says what that does and does not show). The zip is unpacked under a path with a space; its
 * launcher runs --version, check, and run against the reference ingest (on the host's 127.0.0.1) with status
 * while it runs, a Ctrl-C (SIGINT) stop, workers gone, drain; every record arrives. Then the project's unit tests
 * (`*_test.ts` under src/ and drivers/) run with the bundle's deno.exe. Not a `*_test.ts` file: the main suite
 * does not run it (the task names it).
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { spawnCollecting as spawnAgent } from "../../tests/helpers/cli.ts";
import { liveProcesses } from "../../tests/helpers/proc.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import { bundle, unpack } from "../../tests/helpers/bundle.ts";
import { denoScriptArgs } from "../../tests/helpers/deno_script.ts";
import {
  ingestRows,
  printedIds,
  randomTag,
  simMachines,
  type StatusJson,
} from "../../tests/helpers/scenario_util.ts";
import { VERSION } from "../../src/version.ts";
import { bundleName } from "../bundle/build.ts";
import { launcherFlags } from "../bundle/launchers.ts";
import { REPO } from "../bundle/stage.ts";
import { run } from "../bundle/runtime_package.ts";
import { ensureChroot, inChroot, runInChroot, wineUnavailable } from "./wine.ts";

const unavailable = wineUnavailable();
if (unavailable) console.warn(`under_wine: SKIPPED: ${unavailable}`);

const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

/** Command lines (joined) of live Wine processes running `deno.exe` whose command line contains `part`. */
function denoExes(part: string): { pid: number; line: string }[] {
  return liveProcesses().map((p) => ({ pid: p.pid, line: p.argv.join(" ") }))
    .filter((p) => /deno\.exe\b/i.test(p.line) && p.line.includes(part));
}

/** The deno flags of a `deno.exe run ... --config` command line. */
function flagsOf(line: string): string[] {
  return line.slice(line.indexOf(" run ") + 5, line.indexOf(" --config ")).split(" ");
}

Deno.test({
  name:
    "windows bundle under Wine: --version, check, run/status/Ctrl-C/drain (every record arrives), unit tests",
  ignore: unavailable !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    let t0 = performance.now();
    await ensureChroot();
    console.log(`wine chroot ready: ${secs(t0)}`);
    const work = await Deno.makeTempDir({ prefix: "simco-wine-" });
    try {
      t0 = performance.now();
      const b = await bundle("windows-x64");
      await Deno.mkdir(join(work, "Program Files"));
      await unpack(b, join(work, "Program Files"));
      console.log(`windows bundle built and unpacked: ${secs(t0)}`);
      const rootW = `Z:\\w\\Program Files\\${bundleName(b.target)}`;
      const key = `wine-key-${crypto.randomUUID()}`;
      const plant = join(work, "plant");
      await Deno.mkdir(plant);
      const agent = (...args: string[]) =>
        runInChroot(work, "/w/plant", { SIMCO_KEY: key, NO_COLOR: "1" }, [
          "wine",
          `${rootW}\\simco-agent.cmd`,
          ...args,
        ]);

      await t.step("--version and check through simco-agent.cmd", async () => {
        t0 = performance.now();
        const v = await agent("--version");
        assertEquals([v.code, v.stdout.trim()], [0, `simco-agent ${VERSION} (deno 2.9.6)`], v.stderr);
        await Deno.writeTextFile(
          join(plant, "machines.toml"),
          `[agent]\nid = "wine"\n\n${simMachines("w", 1)}`,
        );
        const c = await agent("check", "--config", "machines.toml");
        assertEquals(c.code, 0, c.stderr);
        assertStringIncludes(c.stdout, "Z:\\w\\plant\\simco-data");
        console.log(`--version, check: ${secs(t0)}`);
      });

      await t.step(
        "run against the ingest, status, Ctrl-C (SIGINT), drain: every record arrives",
        async () => {
          t0 = performance.now();
          const cloud = join(work, "cloud");
          await Deno.mkdir(cloud);
          const ingest = new Deno.Command(Deno.execPath(), {
            args: [
              ...denoScriptArgs(join(REPO, "src/ingest/main.ts"), "--db", join(cloud, "ingest.db")),
              "--api-key-env",
              "K",
            ],
            env: { K: key },
            stdin: "piped",
            stdout: "piped",
          }).spawn();
          const ingestOut = ingest.stdout.pipeThrough(new TextDecoderStream()).getReader();
          try {
            const { url } = JSON.parse((await ingestOut.read()).value!);
            const tag = randomTag("wn");
            await Deno.writeTextFile(
              join(plant, "machines.toml"),
              `[agent]\nid = "wine"\ndata_dir = "data"\nlog_level = "debug"\n\n[uplink]\nurl = "${url}"\n` +
                `api_key_env = "SIMCO_KEY"\nmax_backoff = "1s"\ntimeout = "5s"\n\n${
                  simMachines(tag, 3, 200, 400)
                }`,
            );
            const status = async (): Promise<StatusJson> => {
              const r = await agent("status", "--config", "machines.toml", "--json");
              assertEquals(r.code, 0, r.stderr);
              return JSON.parse(r.stdout);
            };
            const { cmd, args } = inChroot(work, "/w/plant", { SIMCO_KEY: key, NO_COLOR: "1" }, [
              "wine",
              `${rootW}\\simco-agent.cmd`,
              "run",
              "--config",
              "machines.toml",
            ]);
            const running = spawnAgent(cmd, { args });
            const main = (await waitFor(
              "the agent's deno.exe",
              60_000,
              () => denoExes(" run --config machines.toml").find((p) => !p.line.includes("__worker")),
            ))!;
            await waitFor(
              "records sent (status)",
              120_000,
              async () => (await status()).uplink.sent_total >= 20,
            );
            assertEquals(flagsOf(main.line), launcherFlags(), "the launcher's flags");
            const workers = denoExes(`__worker --machine ${tag}-`);
            assertEquals(workers.length, 3, JSON.stringify(workers));
            for (const w of workers) {
              assertEquals(flagsOf(w.line), launcherFlags(), "workers start with the same flags");
            }
            Deno.kill(main.pid, "SIGINT");
            const st = await running.status;
            assertEquals(st.code, 0, running.stderr().slice(-3000));
            await waitFor(
              "workers to exit",
              30_000,
              () => denoExes(`__worker --machine ${tag}-`).length === 0,
            );
            const drain = await agent("drain", "--config", "machines.toml", "--timeout", "60s");
            assertEquals(drain.code, 0, drain.stderr);
            const after = await status();
            assertEquals([after.running, after.buffer.queued, after.buffer.in_flight], [false, 0, 0]);
            const ids = printedIds(running.stderr());
            assert(ids.length >= 20, `only ${ids.length} records buffered`);
            const arrived = new Set(ingestRows({ dir: cloud }).map((r) => r.id));
            assertEquals(ids.filter((id) => !arrived.has(id)), [], "records missing at the ingest");
            console.log(`run/status/SIGINT/drain, ${ids.length} records: ${secs(t0)}`);
          } finally {
            await ingest.stdin.close();
            await ingestOut.cancel();
            await ingest.status;
          }
        },
      );

      await t.step("unit tests under src/ and drivers/ with the Windows deno", async () => {
        t0 = performance.now();
        const repo = join(work, "repo");
        await Deno.mkdir(repo);
        for (const f of ["main.ts", "src", "drivers", "tests", "deno.json", "deno.lock"]) {
          await run("cp", ["-r", join(REPO, f), repo]);
        }
        await Deno.remove(join(repo, "tests", "fixtures", "build"), { recursive: true }).catch(() => {});
        // Their npm packages (fast-check too), cached by this Linux deno: the cache layout is the same.
        const tests = (await run("find", ["src", "drivers", "-name", "*_test.ts"], { cwd: repo })).trim()
          .split("\n");
        await run(Deno.execPath(), ["cache", "--config", "deno.json", ...tests], {
          cwd: repo,
          env: { DENO_DIR: join(work, "devcache") },
        });
        const r = await runInChroot(work, "/w/repo", {
          DENO_DIR: "Z:\\w\\devcache",
          DENO_NO_UPDATE_CHECK: "1",
          NO_COLOR: "1",
        }, [
          "wine",
          `${rootW}\\runtime\\deno.exe`,
          "test",
          "-A",
          "--unstable-worker-options",
          "--no-prompt",
          "--cached-only",
          "src/",
          "drivers/",
        ]);
        const summary = r.stdout.split("\n").filter((l) => /passed|failed/.test(l)).at(-1) ?? "";
        assertEquals(r.code, 0, r.stdout.slice(-4000) + r.stderr.slice(-2000));
        console.log(`unit tests under Wine (${tests.length} files): ${summary.trim()}: ${secs(t0)}`);
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
