/**
 * The focas driver in real worker processes, through real FFI, against the fake FOCAS2 library
 * (tests/fixtures/c/fake_focas.c): every decoded field equals what the fake was told to answer; one handle for
 * 50 polls, freed on close, every call from one thread; EW_NOOPT/EW_FUNC leave a metric out, EW_BUSY fails the
 * poll; a library without optional symbols still works; a bad library is refused naming the file and the symbol.
 */
import { join } from "node:path";
import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "./assert.ts";
import {
  FAKE_FOCAS_INCOMPLETE,
  FAKE_FOCAS_MINIMAL,
  focasMachine,
  hex,
  readCalls,
  writeControl,
} from "./helpers/focas_fake.ts";
import { RecordingLog } from "./helpers/log.ts";
import { MachineWorker, type PollOutcome } from "../src/sandbox/mod.ts";

const LINUX = Deno.build.os === "linux";
const ignore = !LINUX;
if (ignore) {
  console.log("focas sandbox tests skipped: the fake FOCAS2 library is built and checked on Linux only");
}

const LATIN1_TEXT = "Überlast Spindel"; // every byte < 0x100: its Latin-1 bytes are its char codes
const latin1 = (s: string) => Uint8Array.from([...s].map((ch) => ch.charCodeAt(0)));
const SJIS_EMERGENCY = Uint8Array.from([0x94, 0xf1, 0x8f, 0xed, 0x92, 0xe2, 0x8e, 0x7e]); // 非常停止

/** What the fake answers in the field test. */
const FIELDS = {
  hdck: 0,
  tmmode: 0,
  aut: 1,
  run: 3,
  motion: 1,
  mstb: 0,
  emergency: 0,
  alarm: 1,
  edit: 0,
  feed: 15000,
  feed_dec: 1,
  feed_unit: 0,
  speed: 12000,
  speed_dec: 0,
  program: "O1234",
  o_num: 1234,
  parts: 812,
  parts_total: 40210,
  spindles: 2,
  spload: 375,
  spload_dec: 1,
  series: "D4F1",
  version: "30.0",
  axes: "03",
  max_axis: 32,
};

const ALARMS = [
  `6,401,1,${hex(latin1(LATIN1_TEXT + "   "))}`,
  `19,12,0,${hex(latin1("PMC"))}`,
  `14,7,0,${hex(latin1("Typ 14"))}`,
  `3,-1,0,${hex(latin1("not an alarm"))}`,
];

async function scratch(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "simco-focas-" });
}

function ok(o: PollOutcome): Record<string, unknown> {
  assert(o.kind === "ok", `expected a reading, got ${JSON.stringify(o)}`);
  return o.metrics as Record<string, unknown>;
}

Deno.test({ name: "focas: every decoded field equals what the fake library answered", ignore }, async () => {
  const dir = await scratch();
  const sjisDir = join(dir, "sjis");
  await writeControl(dir, FIELDS, ALARMS);
  await writeControl(sjisDir, { ...FIELDS, emergency: 1, run: 0, aut: 0 }, [`6,1,0,${hex(SJIS_EMERGENCY)}`]);
  const log = new RecordingLog();
  const w = new MachineWorker(focasMachine("fanuc-fields"), { log, workDir: dir });
  const sjisMachine = focasMachine("fanuc-sjis");
  const sjis = new MachineWorker(
    { ...sjisMachine, options: { ...sjisMachine.options, encoding: "shift_jis" } },
    { log, workDir: sjisDir },
  );
  try {
    const first = ok(await w.poll());
    assertEquals(first, {
      execution: "ACTIVE",
      controller_mode: "AUTOMATIC",
      emergency_stop: "ARMED",
      spindle_speed: 12000,
      path_feedrate: 25, // 1500.0 mm/min
      program: "O1234",
      part_count: 812,
      part_count_total: 40210,
      spindle_load: 37.5,
      alarms: [
        { code: "SV0401", severity: "FAULT", message: LATIN1_TEXT },
        { code: "PC0012", severity: "FAULT", message: "PMC" },
        { code: "T140007", severity: "FAULT", message: "Typ 14" },
      ],
      cnc: { series: "D4F1", version: "30.0", max_axis: 32, axes: 3 },
    });
    // `cnc` comes once per connection: the next reading has everything else.
    const second = ok(await w.poll());
    assertEquals("cnc" in second, false);
    assertEquals(second.part_count, 812);
    const s = ok(await sjis.poll());
    assertEquals(s.alarms, [{ code: "SV0001", severity: "FAULT", message: "非常停止" }]);
    assertEquals([s.emergency_stop, s.execution, s.controller_mode], [
      "TRIGGERED",
      "STOPPED",
      "MANUAL_DATA_INPUT",
    ]);
    // The connection went to the machine's host:port with the poll timeout in whole seconds.
    const connect = readCalls(dir).find((c) => c.fn === "cnc_allclibhndl3")!;
    assertEquals(connect.extra, "ip=127.0.0.1 port=8193 timeout=3");
    assertStringIncludes(log.text(), "connected to 127.0.0.1:8193: series D4F1 version 30.0");
    // cnc_startupprocess got its log file in the scratch folder.
    assertStringIncludes(await Deno.readTextFile(join(dir, "focas.log")), "fake FOCAS2 started, level 0");
  } finally {
    await Promise.all([w.close(), sjis.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  { name: "focas: one handle for 50 polls, freed on close, every call from one thread", ignore },
  async () => {
    const dir = await scratch();
    await writeControl(dir, { ...FIELDS, step: 1 });
    const w = new MachineWorker(focasMachine("fanuc-50"), { log: new RecordingLog(), workDir: dir });
    try {
      const counts: number[] = [];
      let pid: number | null = null;
      for (let i = 0; i < 50; i++) {
        counts.push(ok(await w.poll()).part_count as number);
        pid ??= w.pid;
      }
      // Values change over time: one more part per poll.
      assertEquals(counts, counts.map((_, i) => 812 + 1 + i));
      assertEquals(w.stats.spawns, 1);
      await w.close();
      const calls = readCalls(dir);
      assertEquals(calls.filter((c) => c.fn === "cnc_allclibhndl3").length, 1);
      assertEquals(calls.filter((c) => c.fn === "cnc_statinfo").length, 50);
      assertEquals(calls.filter((c) => c.fn === "cnc_sysinfo").length, 1);
      const frees = calls.filter((c) => c.fn === "cnc_freelibhndl");
      assertEquals(frees.map((c) => [c.handle, c.rc, c.open]), [[calls[1].handle, 0, 0]]);
      assertEquals(calls.at(-1)!.fn, "cnc_exitprocess");
      assertEquals(calls[0].fn, "cnc_startupprocess");
      const tids = new Set(calls.map((c) => c.tid));
      assertEquals(tids.size, 1, `FOCAS calls came from threads ${[...tids].join(", ")}`);
      // That thread is the driver's Web Worker, not the worker process's main thread.
      assertNotEquals([...tids][0], pid);
    } finally {
      await w.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  { name: "focas: EW_NOOPT and EW_FUNC leave a metric out (logged once), EW_BUSY fails", ignore },
  async () => {
    const dir = await scratch();
    await writeControl(dir, { ...FIELDS, "rc.cnc_rdspmeter": 6, "rc.cnc_exeprgname": 1 });
    const log = new RecordingLog();
    const w = new MachineWorker(focasMachine("fanuc-noopt"), { log, workDir: dir });
    try {
      for (let i = 0; i < 3; i++) {
        const m = ok(await w.poll());
        assertEquals(["spindle_load" in m, "program" in m, m.spindle_speed], [false, false, 12000]);
      }
      const noopt = log.lines.filter((l) => l.includes("cnc_rdspmeter: EW_NOOPT (6)"));
      assertEquals(noopt.length, 1, log.text());
      assertStringIncludes(log.text(), "cnc_exeprgname: EW_FUNC/EW_NOPMC (1)");
      await writeControl(dir, { ...FIELDS, "rc.cnc_statinfo": -1 });
      const busy = await w.poll();
      assert(busy.kind === "fail" && busy.cause === "driver_error", JSON.stringify(busy));
      assertStringIncludes(
        busy.message,
        "cnc_statinfo: EW_BUSY (-1): busy (the control is busy; retried at the next poll)",
      );
    } finally {
      await w.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  { name: "focas: a library without the optional symbols still reads the control", ignore },
  async () => {
    const dir = await scratch();
    // Without cnc_startupprocess the fake keeps its control file and call log beside itself: a private copy.
    const lib = join(dir, "libfwlib32.so");
    await Deno.copyFile(FAKE_FOCAS_MINIMAL, lib);
    await writeControl(dir, FIELDS);
    const workDir = join(dir, "machine");
    const w = new MachineWorker(focasMachine("fanuc-min", {}, lib), { log: new RecordingLog(), workDir });
    try {
      const m = ok(await w.poll());
      assertEquals([m.part_count, m.spindle_speed, "spindle_load" in m], [812, 12000, false]);
      await w.close();
      const fns = new Set(readCalls(dir).map((c) => c.fn));
      for (const absent of ["cnc_startupprocess", "cnc_settimeout", "cnc_rdspmeter", "cnc_exitprocess"]) {
        assertEquals(fns.has(absent), false, absent);
      }
      assertEquals(fns.has("cnc_freelibhndl"), true);
    } finally {
      await w.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test({
  name: "focas: a missing library, a directory, missing symbols: errors name file and symbol",
  ignore,
}, async () => {
  const dir = await scratch();
  const cases: [string, string][] = [
    [
      join(dir, "nope", "libfwlib32.so"),
      `options.library: ${join(dir, "nope", "libfwlib32.so")} does not exist`,
    ],
    [
      FAKE_FOCAS_INCOMPLETE,
      `options.library: ${FAKE_FOCAS_INCOMPLETE} lacks the required function cnc_rdalmmsg2`,
    ],
  ];
  try {
    for (const [library, expected] of cases) {
      const w = new MachineWorker(focasMachine("fanuc-bad", {}, library), {
        log: new RecordingLog(),
        workDir: dir,
      });
      const out = await w.poll();
      await w.close();
      assert(out.kind === "fail" && out.cause === "driver_error", JSON.stringify(out));
      assertStringIncludes(out.message, expected);
      assertStringIncludes(out.message, "FOCAS2 library");
    }
    // A directory never reaches the driver: the sandbox refuses to grant it (src/util/library_file.ts).
    const w = new MachineWorker(focasMachine("fanuc-dir", {}, dir), {
      log: new RecordingLog(),
      workDir: dir,
    });
    const out = await w.poll();
    await w.close();
    assert(out.kind === "fail" && out.cause === "spawn", JSON.stringify(out));
    assertEquals(out.message, `options.library: expected a native library file, got a directory: ${dir}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
