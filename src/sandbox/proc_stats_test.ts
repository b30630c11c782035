import { assertEquals } from "../../tests/assert.ts";
import { filetimeMs, parseMemoryCounters, parseStatCpuMs, parseStatm, PMC_BYTES } from "./proc_stats.ts";

Deno.test("parseStatm: resident pages times the page size; garbage is null", () => {
  assertEquals(parseStatm("3452 1290 812 9 0 524 0\n"), 1290 * 4096);
  assertEquals(parseStatm("3452 1290 812", 65536), 1290 * 65536);
  assertEquals(parseStatm(""), null);
  assertEquals(parseStatm("a b c"), null);
});

Deno.test("parseStatCpuMs: utime + stime after the last ')', even with odd command names", () => {
  const rest = "S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 9 0 100 0";
  assertEquals(parseStatCpuMs(`4242 (deno) ${rest}`), 3250);
  assertEquals(parseStatCpuMs(`4242 (a) (b c) ${rest}`), 3250);
  assertEquals(parseStatCpuMs(`4242 (deno) ${rest}`, 1000), 325);
  assertEquals(parseStatCpuMs("4242 deno S"), null);
  assertEquals(parseStatCpuMs("4242 (deno) S 1"), null);
});

Deno.test("Windows layouts: WorkingSetSize at offset 16; FILETIME in 100 ns units", () => {
  const pmc = new Uint8Array(PMC_BYTES);
  new DataView(pmc.buffer).setBigUint64(16, 52_830_208n, true);
  new DataView(pmc.buffer).setBigUint64(8, 99n, true); // PeakWorkingSetSize, not read
  assertEquals(parseMemoryCounters(pmc), 52_830_208);
  const ft = new Uint8Array(16);
  new DataView(ft.buffer).setBigUint64(8, 12_345_0000n, true);
  assertEquals(filetimeMs(ft, 8), 12_345);
});
