/**
 * The Linux offline bundle as a plant engineer gets it: the archive unpacked into a fresh folder with a space
 * in its path, made read-only, and run inside a network namespace with nothing but loopback, as an
 * unprivileged user with an empty HOME and none of the builder's caches: --version, check, run (offline, then
 * uploading to the reference ingest on 127.0.0.1 inside the namespace), status, export, drain, upload, SIGTERM.
 * Every record arrives; the agent connects to nothing but loopback (strace, when installed); nothing changes in
 * the bundle or HOME.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { bundle, snapshot, unpack } from "./helpers/bundle.ts";
import { spawnCollecting as spawnAgent } from "./helpers/cli.ts";
import { liveProcesses } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { denoScriptArgs } from "./helpers/deno_script.ts";
import { asUser, ensureUser, netnsUnavailable, openNetNs } from "./helpers/netns.ts";
import {
  ingestRows,
  printedIds,
  randomTag,
  simMachines,
  type StatusJson,
  workersOf,
} from "./helpers/scenario_util.ts";
import { launcherFlags } from "../tools/bundle/launchers.ts";
import { run } from "../tools/bundle/runtime_package.ts";
import { VERSION } from "../src/version.ts";

const unavailable = netnsUnavailable();
if (unavailable) console.warn(`bundle_linux_test: skipping the network-namespace test: ${unavailable}`);
const hasStrace =
  new Deno.Command("sh", { args: ["-c", "command -v strace"], stdout: "null" }).outputSync().success;

/** The deno flags of a `runtime/deno run ... --config` command line. */
function flagsOf(argv: string[]): string[] {
  return argv.slice(argv.indexOf("run") + 1, argv.indexOf("--config"));
}

Deno.test({
  name:
    "linux bundle: read-only, offline, unprivileged: check, run, status, export, drain, upload; every record arrives",
  ignore: unavailable !== null,
  sanitizeResources: false,
  async fn() {
    const b = await bundle("linux-x64");
    const top = await Deno.makeTempDir({ prefix: "simco-bundle-ns-" });
    const ns = await openNetNs();
    try {
      await Deno.chmod(top, 0o755);
      const user = ensureUser("simco-bundle");
      // The bundle, read-only, in a folder whose path has a space.
      const opt = join(top, "Program Files");
      await Deno.mkdir(opt);
      const root = await unpack(b, opt);
      await run("sha256sum", ["--quiet", "-c", "SHA256SUMS"], { cwd: root });
      await run("chmod", ["-R", "a-w", opt]);
      // The user's own folders: an empty HOME, a temp folder, the plant (config + data dir).
      const [home, tmp, plant] = ["home", "tmp", "plant"].map((n) => join(top, n));
      for (const d of [home, tmp, plant]) {
        await Deno.mkdir(d);
        await Deno.chown(d, user.uid, user.gid);
      }
      // The cloud: the reference ingest, as root, inside the namespace.
      const cloud = join(top, "cloud");
      await Deno.mkdir(cloud);
      const key = `bundle-key-${crypto.randomUUID()}`;
      const ingest = new Deno.Command(ns.enter[0], {
        args: [
          ...ns.enter.slice(1),
          Deno.execPath(),
          ...denoScriptArgs(
            new URL("../src/ingest/main.ts", import.meta.url),
            "--db",
            join(cloud, "ingest.db"),
          ),
          "--api-key-env",
          "INGEST_KEY",
        ],
        env: { INGEST_KEY: key, NO_COLOR: "1" },
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const ingestOut = ingest.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const { url } = JSON.parse((await ingestOut.read()).value!);

      const tag = randomTag("bn");
      const config = (name: string, uplink: string) =>
        Deno.writeTextFile(
          join(plant, name),
          `[agent]\nid = "bundle"\ndata_dir = "data"\nlog_level = "debug"\n\n[uplink]\nurl = "${uplink}"\n` +
            `api_key_env = "SIMCO_KEY"\nmax_backoff = "1s"\ntimeout = "2s"\n\n${simMachines(tag, 3)}`,
        );
      await config("machines.toml", url);
      await config("offline.toml", `http://127.0.0.1:1${new URL(url).pathname}`);
      for (const f of ["machines.toml", "offline.toml"]) await Deno.chown(join(plant, f), user.uid, user.gid);

      const env = { HOME: home, TMPDIR: tmp, PATH: "/usr/bin:/bin", SIMCO_KEY: key, LANG: "C.UTF-8" };
      const launcher = join(root, "simco-agent");
      const argv = (args: string[], trace?: string) => [
        ...ns.enter.slice(1),
        ...(trace ? ["strace", "-f", "-qq", "-e", "trace=connect", "-o", trace] : []),
        ...asUser(user, env),
        launcher,
        ...args,
      ];
      const cli = async (...args: string[]) => {
        const out = await new Deno.Command(ns.enter[0], {
          args: argv(args),
          cwd: plant,
          stdout: "piped",
          stderr: "piped",
        })
          .output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      };
      const status = async (cfg: string): Promise<StatusJson> => {
        const r = await cli("status", "--config", cfg, "--json");
        assertEquals(r.code, 0, r.stderr);
        return JSON.parse(r.stdout);
      };
      const before = { bundle: await snapshot(opt), home: await snapshot(home) };

      const version = await cli("--version");
      assertEquals(
        [version.code, version.stdout.trim()],
        [0, `simco-agent ${VERSION} (deno 2.9.6)`],
        version.stderr,
      );
      const check = await cli("check", "--config", "machines.toml");
      assertEquals(check.code, 0, check.stderr);
      assertStringIncludes(check.stdout, `${tag}-3`);

      // `run` as the service manager would: until SIGTERM. Returns the ids it reported buffered.
      const runUntil = async (cfg: string, enough: (s: StatusJson) => boolean, trace?: string) => {
        const agent = spawnAgent(ns.enter[0], { args: argv(["run", "--config", cfg], trace), cwd: plant });
        await waitFor(`${cfg}: progress in status`, 60_000, async () => enough(await status(cfg)));
        // The agent is the launcher's runtime (strace, nsenter, setpriv and sh all exec or fork into it).
        const procs = liveProcesses();
        const main = procs.find((p) => p.argv[0] === join(root, "runtime", "deno") && p.argv.includes(cfg));
        assert(main, `no agent process for ${cfg}; its stderr: ${agent.stderr().slice(-2000)}`);
        const pid = main.pid;
        const agentArgv = main.argv;
        const worker = procs.find((p) => p.ppid === pid && p.argv.includes("__worker"));
        assertEquals(flagsOf(agentArgv), launcherFlags());
        assert(
          worker,
          `no worker process under the agent: ${JSON.stringify(procs.filter((p) => p.ppid === pid))}`,
        );
        assertEquals(flagsOf(worker.argv), launcherFlags(), "workers start with the launcher's flags");
        Deno.kill(pid, "SIGTERM");
        const st = await agent.status;
        assertEquals(st.code, 0, agent.stderr().slice(-2000));
        assertEquals(workersOf(tag), []);
        return printedIds(agent.stderr());
      };

      // An air-gapped plant: nothing reaches the uplink; the records leave on a file.
      const offlineIds = await runUntil("offline.toml", (s) => s.buffer.queued >= 10);
      assert(offlineIds.length >= 10, `only ${offlineIds.length} buffered`);
      const exported = await cli("export", "--config", "offline.toml", "--out", "records.simco", "--remove");
      assertEquals(exported.code, 0, exported.stderr);
      assertEquals((await status("offline.toml")).buffer.queued, 0);

      // Connected: uploads to the ingest inside the namespace; then drain, and the file from the offline run.
      const trace = hasStrace ? join(cloud, "connect.trace") : undefined;
      if (!trace) console.warn("bundle_linux_test: strace not installed; connect() calls are not checked");
      const onlineIds = await runUntil("machines.toml", (s) => s.uplink.sent_total >= 20, trace);
      assert(onlineIds.length >= 20, `only ${onlineIds.length} buffered`);
      const drain = await cli("drain", "--config", "machines.toml", "--timeout", "60s");
      assertEquals(drain.code, 0, drain.stderr);
      const upload = await cli("upload", "records.simco", "--config", "machines.toml", "--timeout", "60s");
      assertEquals(upload.code, 0, upload.stderr);
      const after = await status("machines.toml");
      assertEquals([after.buffer.queued, after.buffer.in_flight, after.buffer.dead_letter], [0, 0, 0]);

      const arrived = new Set(ingestRows({ dir: cloud }).map((r) => r.id));
      const missing = [...offlineIds, ...onlineIds].filter((id) => !arrived.has(id));
      assertEquals(
        missing,
        [],
        `${missing.length} of ${offlineIds.length + onlineIds.length} records missing`,
      );

      if (trace) {
        const calls = (await Deno.readTextFile(trace)).split("\n").filter((l) => /\bconnect\(/.test(l));
        const inet = calls.filter((l) => /AF_INET6?/.test(l));
        assert(inet.length > 0, "the uplink's connections were not traced");
        const elsewhere = inet.filter((l) =>
          !/inet_addr\("127\.0\.0\.1"\)|inet_pton\(AF_INET6, "::1"/.test(l)
        );
        assertEquals(elsewhere, [], "connections beyond loopback");
      }
      assertEquals(await snapshot(opt), before.bundle, "the bundle folder changed");
      assertEquals(await snapshot(home), before.home, "HOME changed");
      assertEquals([...before.home.keys()], []);
      const written = [...(await snapshot(plant)).keys()].map((p) => p.slice(plant.length + 1).split("/")[0]);
      assertEquals([...new Set(written)].sort(), ["data", "machines.toml", "offline.toml", "records.simco"]);

      await ingest.stdin.close();
      await ingestOut.cancel();
      assertEquals((await ingest.status).code, 0);
    } finally {
      await ns.close();
      await run("chmod", ["-R", "u+w", top]).catch(() => {});
      await Deno.remove(top, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "linux bundle: run by root from a writable folder, poll (agent + worker) writes nothing into the bundle",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const b = await bundle("linux-x64");
    const top = await Deno.makeTempDir({ prefix: "simco-bundle-rw-" });
    try {
      const root = await unpack(b, top);
      const plant = join(top, "plant");
      await Deno.mkdir(plant);
      await Deno.writeTextFile(
        join(plant, "machines.toml"),
        `[agent]\nid = "rw"\ndata_dir = "data"\n\n[uplink]\nurl = "http://127.0.0.1:1/v1/telemetry"\n` +
          `api_key_env = "K"\n\n${simMachines("rw", 1)}`,
      );
      const before = await snapshot(root);
      const out = await new Deno.Command(join(root, "simco-agent"), {
        args: ["poll", "rw-1", "--config", "machines.toml"],
        cwd: plant,
        env: { K: "k" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assertStringIncludes(new TextDecoder().decode(out.stdout), "rw-1");
      assertEquals(await snapshot(root), before);
    } finally {
      await Deno.remove(top, { recursive: true });
    }
  },
});
