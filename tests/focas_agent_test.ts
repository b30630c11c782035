/**
 * The focas driver through the real CLI: `run` retries a control that answers EW_SOCKET with backoff and
 * reconnects once it answers (the records reach the ingest; the handle is freed at shutdown); `poll` prints the
 * mapped record; `check` validates the driver's options. The fake FOCAS2 library's control file lives in the
 * machine's scratch folder, `<data_dir>/machines/<id>/`.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { ingestMetrics } from "./helpers/scenario_util.ts";
import { waitFor } from "./helpers/wait.ts";
import { runCli } from "./helpers/cli.ts";
import { FAKE_FOCAS, readCalls, writeControl } from "./helpers/focas_fake.ts";

const ignore = Deno.build.os !== "linux";
if (ignore) {
  console.log("focas CLI tests skipped: the fake FOCAS2 library is built and checked on Linux only");
}

const BASE = {
  run: 3,
  aut: 1,
  speed: 4500,
  feed: 1200,
  feed_unit: 1,
  parts: 77,
  parts_total: 1077,
  program: "O0042",
};

const machineToml = (extra = "", options = `library = "${FAKE_FOCAS}"`) =>
  `[[machines]]\nid = "fanuc-1"\ndriver = "focas"\nhost = "127.0.0.1"\n${extra}\n[machines.options]\n${options}\n`;

Deno.test(
  { name: "run: EW_SOCKET on connect is retried with backoff, then the control is read", ignore },
  async () => {
    const plant = await makePlant(
      machineToml(`interval = "200ms"\ntimeout = "2s"\nmax_backoff = "4s"\nbreaker_threshold = 50`),
    );
    const scratch = join(plant.dir, "data", "machines", "fanuc-1");
    try {
      await writeControl(scratch, { ...BASE, connect_rc: -16 });
      const agent = plant.startAgent();
      const connects = () => readCalls(scratch).filter((c) => c.fn === "cnc_allclibhndl3");
      await waitFor("three connect attempts", 40_000, () => connects().length >= 3);
      const t = connects().map((c) => c.ms);
      // Polled every 200 ms when healthy; after failures 2^n s apart (capped at 4 s), plus a process start.
      assert(t[1] - t[0] >= 1900, `second attempt ${t[1] - t[0]} ms after the first`);
      assert(t[2] - t[1] >= 3900, `third attempt ${t[2] - t[1]} ms after the second`);
      assert(connects().every((c) => c.rc === -16 && c.extra === "ip=127.0.0.1 port=8193 timeout=2"));
      assertStringIncludes(
        agent.stderr(),
        "cnc_allclibhndl3: EW_SOCKET (-16): socket error (connecting to 127.0.0.1:8193)",
      );
      await writeControl(scratch, BASE);
      const records = await waitFor("a FOCAS reading at the ingest", 30_000, () => {
        const r = ingestMetrics(plant.dir, "fanuc-1").filter((m) => m.part_count === 77);
        return r.length >= 3 ? r : undefined;
      });
      assertEquals(records![0].execution, "ACTIVE");
      assertEquals(records![0].path_feedrate, 508); // 1200 inch/min
      agent.child.kill("SIGTERM");
      assertEquals((await agent.status).code, 0, agent.stderr());
      const calls = readCalls(scratch);
      const ok = calls.filter((c) => c.fn === "cnc_allclibhndl3" && c.rc === 0);
      assertEquals(ok.length, 1, "one connection once the control answered");
      const last = calls.filter((c) => c.fn === "cnc_freelibhndl").at(-1)!;
      assertEquals([last.handle, last.rc, last.open], [ok[0].handle, 0, 0]);
    } finally {
      await plant.close();
    }
  },
);

Deno.test(
  { name: "poll prints the mapped record of a FOCAS machine; check validates its options", ignore },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "simco-focas-cli-" });
    const config = join(dir, "machines.toml");
    try {
      await Deno.writeTextFile(config, `[agent]\nid = "focas-cli"\ndata_dir = "data"\n\n${machineToml()}`);
      await writeControl(join(dir, "data", "machines", "fanuc-1"), BASE);
      const r = await runCli(["poll", "fanuc-1", "--config", config]);
      assertEquals(r.code, 0, r.stderr);
      const rec = JSON.parse(r.stdout);
      assertEquals(rec.machine_id, "fanuc-1");
      assertEquals(rec.metrics, {
        execution: "ACTIVE",
        controller_mode: "AUTOMATIC",
        emergency_stop: "ARMED",
        spindle_speed: 4500,
        path_feedrate: 508,
        program: "O0042",
        part_count: 77,
        part_count_total: 1077,
        spindle_load: 0,
        alarms: [],
        cnc: { series: "D4F1", version: "30.0", max_axis: 32, axes: 3 },
      });
      const good = await runCli(["check", "--config", config]);
      assertEquals(good.code, 0, good.stderr);
      assertStringIncludes(good.stdout, "fanuc-1  focas   127.0.0.1:8193");

      await Deno.writeTextFile(
        config,
        `[agent]\nid = "focas-cli"\n\n${machineToml("", `encoding = "klingon"\nstartup_log_level = 9`)}` +
          `\n[[machines]]\nid = "fanuc-2"\ndriver = "focas"\n[machines.options]\nlibrary = "x.so"\n`,
      );
      const bad = await runCli(["check", "--config", config]);
      assertEquals(bad.code, 2, bad.stdout + bad.stderr);
      for (
        const expected of [
          "machines[0].options.library: required option is missing",
          'machines[0].options.encoding: expected one of "latin1", "shift_jis", "utf-8"',
          'got "klingon"',
          "machines[0].options.startup_log_level: expected an integer 0..3, got 9",
          "machines[1].host: required key is missing",
        ]
      ) assertStringIncludes(bad.stderr, expected);
      assertEquals(bad.stderr.includes("    at "), false, "no stack trace");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
