/**
 * The sandbox really restricts: the probe driver (tests/drivers/sandbox_probe.ts) runs in a real worker
 * process and tries another host, another port, a file, an env var, a subprocess and an FFI library it was
 * not given; each gets NotCapable, while its own host:port (a real listener on 127.0.0.1) and its own native
 * library (tests/fixtures/c/sandbox_probe.c) work.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { fixtureLibrary } from "./build_fixtures.ts";
import { machine, PROBE, twoPorts } from "./helpers/sandbox_machines.ts";
import { RecordingLog } from "./helpers/log.ts";
import { MachineWorker } from "../src/sandbox/mod.ts";
import { join } from "node:path";

Deno.test("sandbox: a driver reaches only its own host:port and native library", async () => {
  const ports = twoPorts();
  const accepted = ports.accepted;
  const dir = await Deno.makeTempDir({ prefix: "sandbox_restrict_" });
  const secret = join(dir, "secret.txt");
  await Deno.writeTextFile(secret, "not for drivers");
  await Deno.writeTextFile(join(dir, "secret.json"), '{"secret": true}');
  const log = new RecordingLog();
  const w = new MachineWorker(
    machine("probe-1", {
      driver: "__sandbox_probe",
      host: "127.0.0.1",
      port: ports.ownPort,
      options: {
        action: "probe",
        library: fixtureLibrary("sandbox_probe"),
        other_library: fixtureLibrary("sandbox_other"),
        other_file: secret,
        write_file: join(dir, "written.txt"),
        other_port: ports.otherPort,
        json_file: join(dir, "secret.json"),
      },
      timeoutMs: 5000,
    }),
    { log, ...PROBE },
  );
  try {
    const out = await w.poll();
    assert(out.kind === "ok", `poll failed: ${JSON.stringify(out)}\n${log.text()}`);
    assertEquals(out.metrics, {
      own_net: "ok",
      own_ffi: "ok",
      own_ffi_result: 5,
      other_host: "NotCapable",
      other_host_by_name: "NotCapable",
      other_port: "NotCapable",
      read_file: "NotCapable",
      write_file: "NotCapable",
      env: "NotCapable",
      run: "NotCapable",
      other_ffi: "NotCapable",
      sys: "NotCapable",
      import_file: "TypeError",
    });
    assertEquals(accepted.other, 0);
    assertEquals(await Deno.stat(join(dir, "written.txt")).then(() => true, () => false), false);
  } finally {
    await w.close();
    await ports.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: console.log in a driver goes to the log, not into the protocol", async () => {
  const log = new RecordingLog();
  const w = new MachineWorker(
    machine("probe-console", {
      driver: "__sandbox_probe",
      host: "127.0.0.1",
      port: 9,
      options: { action: "console" },
    }),
    { log, ...PROBE },
  );
  try {
    const out = await w.poll();
    assert(out.kind === "ok", JSON.stringify(out));
    assertEquals(out.metrics, { polls: 1 });
    assertStringIncludes(log.text(), "machine probe-console worker: probe: console.log from a driver");
  } finally {
    await w.close();
  }
});

Deno.test("sandbox: a driver flooding stderr gets 64 KiB a minute into the log, the rest counted", async () => {
  const log = new RecordingLog();
  const w = new MachineWorker(
    machine("probe-spam", {
      driver: "__sandbox_probe",
      host: "127.0.0.1",
      port: 9,
      options: { action: "spam" },
    }),
    { log, ...PROBE },
  );
  try {
    assertEquals((await w.poll()).kind, "ok");
  } finally {
    await w.close();
  }
  // 500 lines of 256 bytes: 256 of them fill 64 KiB, the other 244 are counted.
  assertEquals(log.lines.filter((l) => l.includes("probe: spam line")).length, 256);
  assertStringIncludes(
    log.text(),
    "machine probe-spam worker: 62464 more stderr bytes (244 lines) not logged",
  );
});
