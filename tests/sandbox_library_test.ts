/**
 * `options.library` must name a regular file, and the grant is for its resolved path: `check` and `run`
 * refuse `/etc` naming the key and line (src/config/load.ts libraryProblems), the sandbox refuses it again at
 * spawn, and a symlink to the real library works because the worker is given, and granted, the real path.
 * Real files, symlinks, a real worker process with the probe driver and its C fixture library.
 */
import { assert, assertEquals } from "./assert.ts";
import { fixtureLibrary } from "./build_fixtures.ts";
import { machine, PROBE } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import { libraryProblems } from "../src/config/load.ts";
import { PROBE_DESCRIPTION } from "./drivers/sandbox_probe.ts";

const TEXT = `[[machines]]
id = "a"
driver = "__sandbox_probe"
[machines.options]
library = "/etc"
`;
const describe = (name: string) => name === "__sandbox_probe" ? PROBE_DESCRIPTION : undefined;

Deno.test("config: a library option naming a folder is refused, naming key and line; a missing one is not", async () => {
  await withTempDir((dir) => {
    const machines = [
      { driver: "__sandbox_probe", options: { library: "/etc" } },
      { driver: "__sandbox_probe", options: { library: `${dir}/missing.so` } },
      { driver: "__sandbox_probe", options: { library: fixtureLibrary("sandbox_probe") } },
      { driver: "simulator", options: { library: "/etc" } }, // no library option: not looked at
    ];
    const problems = libraryProblems(machines, TEXT, "machines.toml", describe);
    // Not installed yet is the driver's to report (samples are checked before a vendor library exists).
    assertEquals(problems.map((p) => [p.key, p.line]), [["machines[0].options.library", 5]]);
    assertEquals(problems[0].message, "expected a native library file, got a directory: /etc");
    if (Deno.build.os === "windows") return; // no FIFOs there
    const fifo = `${dir}/lib.fifo`;
    new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
    const special = libraryProblems(
      [{ driver: "__sandbox_probe", options: { library: fifo } }],
      "",
      "m.toml",
      describe,
    );
    assertEquals(special.map((p) => p.message), [
      `expected a native library file, got not a regular file: ${fifo}`,
    ]);
  }, "library_cfg_");
});

Deno.test("sandbox: library = /etc fails to spawn; a symlink to the library is granted by its real path", async () => {
  await withTempDir(async (dir) => {
    const link = `${dir}/libprobe-link.so`;
    await Deno.symlink(fixtureLibrary("sandbox_probe"), link);
    const make = (id: string, library: string) =>
      new MachineWorker(
        machine(id, {
          driver: "__sandbox_probe",
          host: "127.0.0.1",
          port: 9,
          timeoutMs: 5000,
          options: { action: "ffi_add", library },
        }),
        { log: new RecordingLog(), ...PROBE },
      );
    const etc = make("lib-etc", "/etc");
    const linked = make("lib-link", link);
    try {
      const bad = await etc.poll();
      assert(bad.kind === "fail" && bad.cause === "spawn", JSON.stringify(bad));
      assertEquals(bad.message, "options.library: expected a native library file, got a directory: /etc");
      assertEquals(etc.stats.spawns, 0);
      const ok = await linked.poll();
      assert(ok.kind === "ok", JSON.stringify(ok));
      assertEquals(ok.metrics, { library: Deno.realPathSync(link), sum: 5 });
    } finally {
      await Promise.all([etc.close(), linked.close()]);
    }
  }, "library_link_");
});
