import { assertEquals } from "../../../tests/assert.ts";
import { cpuRateLimit, extendedLimits, JOB_MEMORY_MARGIN_MB, LIMIT, uiRestrictions } from "./windows.ts";

Deno.test("windows job: JOBOBJECT_EXTENDED_LIMIT_INFORMATION fields at their x64 offsets", () => {
  const b = extendedLimits(256);
  assertEquals(b.length, 144);
  const v = new DataView(b.buffer);
  assertEquals(v.getUint32(16, true), 0x2508); // KILL_ON_JOB_CLOSE | DIE_ON_UNHANDLED | PROCESS_MEMORY | ACTIVE_PROCESS
  assertEquals(
    v.getUint32(16, true),
    LIMIT.KILL_ON_JOB_CLOSE | LIMIT.DIE_ON_UNHANDLED_EXCEPTION | LIMIT.PROCESS_MEMORY | LIMIT.ACTIVE_PROCESS,
  );
  assertEquals(v.getUint32(40, true), 1); // ActiveProcessLimit
  assertEquals(Number(v.getBigUint64(112, true)), (256 + JOB_MEMORY_MARGIN_MB) * 1048576); // ProcessMemoryLimit
  // Everything else stays zero (no working-set, affinity, priority or job-wide limits).
  const others = [...b].filter((_, i) =>
    !(i >= 16 && i < 20) && !(i >= 40 && i < 44) && !(i >= 112 && i < 120)
  );
  assertEquals(others.every((x) => x === 0), true);
});

Deno.test("windows job: CPU hard cap of one core's worth, UI restrictions all on", () => {
  const v = (b: Uint8Array<ArrayBuffer>) => new DataView(b.buffer);
  assertEquals([v(cpuRateLimit(4)).getUint32(0, true), v(cpuRateLimit(4)).getUint32(4, true)], [5, 2500]);
  assertEquals(v(cpuRateLimit(1)).getUint32(4, true), 10_000);
  assertEquals(v(cpuRateLimit(0)).getUint32(4, true), 10_000);
  assertEquals(v(cpuRateLimit(64)).getUint32(4, true), 156);
  assertEquals([...uiRestrictions()], [0xff, 0, 0, 0]);
});
