import { assertEquals } from "../../tests/assert.ts";
import { ENCODINGS } from "./description.ts";
import { alarmCode, controllerMode, execution, feedrateMmPerS, scaled, toMetrics } from "./mapping.ts";
import { codeName, EW_CODES, FocasError } from "./codes.ts";
import type { StatInfo } from "./structs.ts";

const st = (over: Partial<StatInfo>): StatInfo => ({
  hdck: 0,
  tmmode: 0,
  aut: 1,
  run: 0,
  motion: 0,
  mstb: 0,
  emergency: 0,
  alarm: 0,
  edit: 0,
  ...over,
});

Deno.test("execution: run first, then motion/mstb interruptions, then STOPPED/READY", () => {
  assertEquals(execution(st({ run: 3 })), "ACTIVE");
  assertEquals(execution(st({ run: 4, mstb: 1 })), "ACTIVE");
  assertEquals(execution(st({ run: 2, motion: 2 })), "FEED_HOLD");
  assertEquals(execution(st({ run: 0, motion: 2 })), "INTERRUPTED");
  assertEquals(execution(st({ run: 1, mstb: 1 })), "INTERRUPTED");
  assertEquals(execution(st({ run: 0 })), "STOPPED");
  assertEquals(execution(st({ run: 1 })), "READY");
  assertEquals(execution(st({ run: 7 })), undefined);
});

Deno.test("controller_mode: MEM/RMT, MDI, EDIT, manual modes; others left out", () => {
  const modes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(controllerMode);
  assertEquals(modes, [
    "MANUAL_DATA_INPUT",
    "AUTOMATIC",
    undefined,
    "EDIT",
    "MANUAL",
    "MANUAL",
    "MANUAL",
    "MANUAL",
    "MANUAL",
    "MANUAL",
    "AUTOMATIC",
    undefined,
  ]);
});

Deno.test("alarm codes, scaling and feed units", () => {
  assertEquals([alarmCode(6, 401), alarmCode(0, 7), alarmCode(19, 12345), alarmCode(14, 1)], [
    "SV0401",
    "SW0007",
    "PC12345",
    "T140001",
  ]);
  assertEquals([scaled(12345, 1), scaled(3, 0), scaled(1, 3)], [1234.5, 3, 0.001]);
  assertEquals(feedrateMmPerS(6000, 0, 0), 100);
  assertEquals(feedrateMmPerS(100, 0, 1), 42.333333); // 100 inch/min
  assertEquals(feedrateMmPerS(100, 0, 2), undefined);
});

Deno.test("toMetrics: only what was read; alarms with alm_no < 0 are not alarms; text decoded and trimmed", () => {
  const latin = new TextDecoder("latin1");
  assertEquals(toMetrics({}, latin), {});
  const msg = Uint8Array.from([0x20, 0xc4, 0x6c, 0x20, 0x00]);
  assertEquals(
    toMetrics({
      stat: st({ run: 3, emergency: 1, aut: 2 }),
      alarms: [
        { alm_no: 5, type: 4, axis: 1, msg_len: 5, message: msg },
        { alm_no: -1, type: 0, axis: 0, msg_len: 0, message: new Uint8Array() },
      ],
    }, latin),
    {
      execution: "ACTIVE",
      emergency_stop: "TRIGGERED",
      alarms: [{ code: "OT0005", severity: "FAULT", message: "Äl" }],
    },
  );
});

Deno.test("every encoding the options allow is one TextDecoder knows", () => {
  for (const e of ENCODINGS) new TextDecoder(e);
  assertEquals(new TextDecoder("shift_jis").decode(Uint8Array.from([0x83, 0x47])), "エ");
});

Deno.test("return codes: the whole fwlib32.h table, named in errors", () => {
  assertEquals(Object.keys(EW_CODES).map(Number).sort((a, b) => a - b), [...Array(39)].map((_, i) => i - 17));
  assertEquals(codeName(-16), "EW_SOCKET (-16)");
  assertEquals(codeName(17), "EW_PASSWD (17)");
  assertEquals(codeName(-99), "unknown return code (-99)");
  assertEquals(new FocasError("cnc_statinfo", -16).message, "cnc_statinfo: EW_SOCKET (-16): socket error");
  assertEquals(new FocasError("cnc_rdspeed", -1).retryable, true);
});
