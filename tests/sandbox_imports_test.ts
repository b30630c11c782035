/**
 * No module loading from outside the bundle: a driver's `import()` of an uncached `npm:` package, of a `jsr:`
 * package and of `https:` / `http:` URLs fails without any network traffic and without a file written. A local
 * registry on 127.0.0.1 (NPM_CONFIG_REGISTRY and JSR_URL point at it; workers keep both variables) counts
 * requests: zero from the worker. The control, the same imports in a plain `deno run` with a scratch DENO_DIR,
 * makes that registry see requests, so the test can fail. Spawned through Deno.execPath(), never npx (which
 * honours NPM_CONFIG_REGISTRY itself).
 */
import { assert, assertEquals } from "./assert.ts";
import { machine, PROBE } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import { agentDenoDir, workerEnvOverrides } from "../src/sandbox/module_cache.ts";
import { DENO_CONFIG } from "../src/runtime.ts";
import { NPM_DEP_DESCRIPTION } from "./drivers/npm_dep.ts";

/** A registry that answers 404 to everything and remembers what was asked. */
function fakeRegistry() {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests.push(req.url);
    return new Response("not found", { status: 404 });
  });
  return { requests, port: server.addr.port, url: `http://127.0.0.1:${server.addr.port}/`, server };
}

/** Names up to two levels below `dir` (what a download would add), or [] when it does not exist. */
function entries(dir: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      out.push(e.name);
      if (e.isDirectory) {
        for (const f of Deno.readDirSync(`${dir}/${e.name}`)) out.push(`${e.name}/${f.name}`);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

const SPECIFIERS = (port: number) => [
  "npm:left-pad-uncached@1.0.0",
  "jsr:@simco/uncached@1.0.0",
  `https://127.0.0.1:${port}/mod.js`,
  `http://127.0.0.1:${port}/mod.js`,
];

Deno.test("control: the same imports in a plain deno run do reach the local registry", async () => {
  const reg = fakeRegistry();
  try {
    await withTempDir(async (dir) => {
      const script = `${dir}/imports.ts`;
      await Deno.writeTextFile(
        script,
        `for (const s of ${
          JSON.stringify(SPECIFIERS(reg.port))
        }) { try { await import(s); } catch { /* expected */ } }`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", script],
        env: { NPM_CONFIG_REGISTRY: reg.url, JSR_URL: reg.url, DENO_DIR: `${dir}/deno_dir`, NO_COLOR: "1" },
        cwd: dir,
        stdout: "null",
        stderr: "null",
      }).output();
      assertEquals(out.code, 0);
    }, "imports_control_");
    assert(reg.requests.some((u) => u.includes("left-pad-uncached")), JSON.stringify(reg.requests));
    assert(reg.requests.some((u) => u.includes("@simco/uncached")), JSON.stringify(reg.requests));
  } finally {
    await reg.server.shutdown();
  }
});

Deno.test("a driver's npm:, jsr:, https: and http: imports fail with no request and no file written", async () => {
  const reg = fakeRegistry();
  const saved = { npm: Deno.env.get("NPM_CONFIG_REGISTRY"), jsr: Deno.env.get("JSR_URL") };
  // Set in the agent (this process): the worker keeps both variables, so a fetch would reach this registry.
  Deno.env.set("NPM_CONFIG_REGISTRY", reg.url);
  Deno.env.set("JSR_URL", reg.url);
  const denoDir = agentDenoDir()!;
  const lockFile = new URL("deno.lock", `file://${DENO_CONFIG}`);
  const lockBefore = await Deno.readTextFile(lockFile);
  const npmBefore = entries(`${denoDir}/npm`);
  const remoteBefore = entries(`${denoDir}/remote`);
  const home = workerEnvOverrides().HOME;
  const w = new MachineWorker(
    machine("imports-1", {
      driver: "__sandbox_probe",
      host: "127.0.0.1",
      port: 9,
      timeoutMs: 15_000,
      options: { action: "imports", registry_port: reg.port, npm_package: "left-pad-uncached" },
    }),
    { log: new RecordingLog(), ...PROBE },
  );
  try {
    const out = await w.poll();
    assert(out.kind === "ok", JSON.stringify(out));
    const m = out.metrics as Record<string, string>;
    for (const k of ["npm", "jsr", "https", "http"]) {
      assert(m[k] !== "ok" && m[k].length > 0, `${k}: ${m[k]}`);
    }
    assert(/Failed loading .* for package "left-pad-uncached"/.test(m.npm), m.npm); // --cached-only
    for (const k of ["jsr", "https", "http"]) assert(/Requires import access/.test(m[k]), `${k}: ${m[k]}`);
    console.log(`worker import outcomes: ${JSON.stringify(m)}`);
    assertEquals(reg.requests, []);
    assertEquals(await Deno.readTextFile(lockFile), lockBefore);
    assertEquals(entries(`${denoDir}/npm`), npmBefore);
    assertEquals(entries(`${denoDir}/remote`), remoteBefore);
    assertEquals(entries(home), []);
  } finally {
    await w.close();
    await reg.server.shutdown();
    for (const [k, v] of [["NPM_CONFIG_REGISTRY", saved.npm], ["JSR_URL", saved.jsr]] as const) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
});

Deno.test("a driver's own locked npm dependency still loads in a --cached-only worker", async () => {
  const w = new MachineWorker(machine("npm-dep-1", { driver: "__npm_dep", timeoutMs: 15_000, options: {} }), {
    log: new RecordingLog(),
    driverModule: new URL("./drivers/npm_dep.ts", import.meta.url).href,
    driverDescription: NPM_DEP_DESCRIPTION,
  });
  try {
    const out = await w.poll();
    assert(out.kind === "ok", JSON.stringify(out));
    assertEquals(out.metrics, { parsed: 42 });
  } finally {
    await w.close();
  }
});
