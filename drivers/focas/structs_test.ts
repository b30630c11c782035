import { assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  decodeAlarmMessages,
  decodeExecProgram,
  decodeLongParam,
  decodeSpeed,
  decodeSpindleLoads,
  decodeStatInfo,
  decodeSysInfo,
  ODBALMMSG2_SIZE,
} from "./structs.ts";

/** Bytes with little-endian integers written at given offsets. */
function bytes(size: number, fill: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer), b);
  return b;
}
const ascii = (b: Uint8Array, o: number, s: string) =>
  s.split("").forEach((c, i) => b[o + i] = c.charCodeAt(0));

Deno.test("ODBST: nine i16 at 0..16", () => {
  const b = bytes(18, (v) => [0, 1, 10, 3, 2, 1, 1, 1, 0].forEach((x, i) => v.setInt16(i * 2, x, true)));
  assertEquals(decodeStatInfo(b), {
    hdck: 0,
    tmmode: 1,
    aut: 10,
    run: 3,
    motion: 2,
    mstb: 1,
    emergency: 1,
    alarm: 1,
    edit: 0,
  });
});

Deno.test("ODBSPEED: long is 4 bytes, acts at 12 (not 16)", () => {
  const b = bytes(24, (v, u) => {
    v.setInt32(0, 123456, true);
    v.setInt16(4, 1, true);
    v.setInt16(6, 0, true);
    v.setInt16(8, 2, true);
    ascii(u, 10, "F");
    v.setInt32(12, -4500, true);
    v.setInt16(16, 0, true);
    v.setInt16(18, 2, true);
    ascii(u, 22, "S");
    ascii(u, 23, "1");
  });
  assertEquals(decodeSpeed(b), {
    actf: { data: 123456, dec: 1, unit: 0, disp: 2, name: "F", suff: "" },
    acts: { data: -4500, dec: 0, unit: 2, disp: 0, name: "S", suff: "1" },
  });
});

Deno.test("ODBEXEPRG, IODBPSD, ODBSYS", () => {
  assertEquals(
    decodeExecProgram(bytes(40, (v, u) => {
      ascii(u, 0, "O1234");
      u[6] = 0x41; // after the NUL: ignored
      v.setInt32(36, 1234, true);
    })),
    { name: "O1234", o_num: 1234 },
  );
  assertEquals(
    decodeLongParam(bytes(8, (v) => {
      v.setInt16(0, 6711, true);
      v.setInt32(4, 2_000_000_001, true);
    })),
    { datano: 6711, type: 0, ldata: 2_000_000_001 },
  );
  assertEquals(
    decodeSysInfo(bytes(18, (v, u) => {
      v.setInt16(2, 32, true);
      ascii(u, 4, "31");
      ascii(u, 6, " M");
      ascii(u, 8, "D4F1");
      ascii(u, 12, "30.0");
      ascii(u, 16, "05");
    })),
    { addinfo: 0, max_axis: 32, cnc_type: "31", mt_type: " M", series: "D4F1", version: "30.0", axes: "05" },
  );
});

Deno.test("ODBALMMSG2: 76-byte entries, msg_len bytes of alm_msg at 12, clamped to 64", () => {
  const b = bytes(ODBALMMSG2_SIZE * 2, (v, u) => {
    v.setInt32(0, 401, true);
    v.setInt16(4, 6, true);
    v.setInt16(6, 2, true);
    v.setInt16(10, 3, true);
    ascii(u, 12, "ABCD");
    v.setInt32(76, -1, true);
    v.setInt16(76 + 10, 200, true);
  });
  const [a, c] = decodeAlarmMessages(b, 2);
  assertEquals([a.alm_no, a.type, a.axis, a.msg_len, [...a.message]], [401, 6, 2, 3, [65, 66, 67]]);
  assertEquals([c.alm_no, c.message.length], [-1, 64]);
  assertThrows(() => decodeAlarmMessages(b, 3), RangeError, "ODBALMMSG2: expected 228 bytes, got 152");
});

Deno.test("ODBSPLOAD: 24 bytes per spindle, spspeed at 12", () => {
  const b = bytes(48, (v, u) => {
    v.setInt32(0, 375, true);
    v.setInt16(4, 1, true);
    ascii(u, 8, "S");
    v.setInt32(12, 3000, true);
    v.setInt16(18, 2, true);
    v.setInt32(24, 50, true);
  });
  const [s1, s2] = decodeSpindleLoads(b, 2);
  assertEquals(s1.spload, { data: 375, dec: 1, unit: 0, name: "S", suff1: "", suff2: "" });
  assertEquals([s1.spspeed.data, s1.spspeed.unit, s2.spload.data], [3000, 2, 50]);
});
