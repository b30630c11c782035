/**
 * Running as a service: the example systemd unit passes `systemd-analyze verify` (skipped with a message where
 * systemd is not installed) and keeps the directives the README promises; an upgrade over a buffer.db left by
 * the previous schema version (tests/fixtures/buffer_v1, see make.ts there) migrates it and delivers every
 * record it held, the two left in flight included.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";
import { simMachines, statusJson } from "./helpers/scenario_util.ts";
import { SCHEMA_VERSION } from "../src/buffer/mod.ts";

const UNIT = new URL("../examples/simco-agent.service", import.meta.url);

function hasSystemdAnalyze(): boolean {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync()
      .success;
  } catch {
    return false;
  }
}

const systemd = Deno.build.os === "linux" && hasSystemdAnalyze();
if (!systemd) console.log("ops_service_test: systemd-analyze not available; the unit file check is skipped");

Deno.test("service: the unit keeps the promised directives", () => {
  const text = Deno.readTextFileSync(UNIT);
  for (
    const line of [
      "Restart=always",
      "User=simco",
      "KillMode=mixed",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/lib/simco-agent",
      "LoadCredential=api_key:/etc/simco-agent/api.key",
      "RestartPreventExitStatus=2",
    ]
  ) assert(text.split("\n").includes(line), `${line} missing`);
  assert(/^MemoryMax=\S+$/m.test(text) && /^TasksMax=\d+$/m.test(text), "MemoryMax/TasksMax missing");
  assert(!/^MemoryDenyWriteExecute=true/m.test(text), "V8's JIT needs writable+executable memory");
});

Deno.test({
  name: "service: systemd-analyze verify accepts the unit without a warning",
  ignore: !systemd,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "simco-unit-" });
    try {
      // verify checks that ExecStart exists: point it at a stand-in executable, the rest is the unit as shipped.
      const exe = join(dir, "simco-agent");
      Deno.writeTextFileSync(exe, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const unit = join(dir, "simco-agent.service");
      Deno.writeTextFileSync(unit, Deno.readTextFileSync(UNIT).replaceAll("/usr/local/bin/simco-agent", exe));
      const r = await new Deno.Command("systemd-analyze", {
        args: ["verify", unit],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assertEquals(r.code, 0, out);
      assertEquals(out.trim(), "", "systemd-analyze warned");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("upgrade: a buffer.db of schema version 1 is migrated and every record in it is delivered", async () => {
  const plant = await makePlant(simMachines("new", 1, 200, 200));
  try {
    const data = join(plant.dir, "data");
    await Deno.mkdir(data);
    await Deno.copyFile(new URL("./fixtures/buffer_v1/buffer.db", import.meta.url), join(data, "buffer.db"));
    const before = await statusJson(plant);
    assertEquals([before.buffer.queued + before.buffer.in_flight, before.buffer.dropped_total], [42, 3]);
    const agent = plant.startAgent();
    await waitFor("the old records at the ingest", 20_000, () => {
      const db = new DatabaseSync(join(plant.dir, "ingest.db"), { readOnly: true });
      try {
        const n = db.prepare("SELECT count(*) AS n FROM records WHERE machine_id = 'old-mill'").get() as {
          n: number;
        };
        return Number(n.n) === 42;
      } finally {
        db.close();
      }
    });
    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0, agent.stderr());
    const db = new DatabaseSync(join(data, "buffer.db"), { readOnly: true });
    try {
      const v = db.prepare("PRAGMA user_version").get() as { user_version: number };
      assertEquals(Number(v.user_version), SCHEMA_VERSION);
      assert(db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'dead_letter'").get() !== undefined);
    } finally {
      db.close();
    }
    assertEquals((await statusJson(plant)).buffer.dropped_total, 3, "counters kept through the migration");
  } finally {
    await plant.close();
  }
});
