import { assertEquals } from "../../tests/assert.ts";
import { formatDelay, formatElapsed, plural } from "./human.ts";

Deno.test("formatElapsed: two units at most, whole seconds", () => {
  assertEquals(formatElapsed(0), "0s");
  assertEquals(formatElapsed(400), "0s");
  assertEquals(formatElapsed(12_300), "12s");
  assertEquals(formatElapsed(300_000), "5m");
  assertEquals(formatElapsed(312_000), "5m12s");
  assertEquals(formatElapsed(3_600_000 + 5 * 60_000 + 7000), "1h5m");
  assertEquals(formatElapsed(3 * 86_400_000 + 4 * 3_600_000 + 59_000), "3d4h");
  assertEquals(formatElapsed(86_400_000 + 30_000), "1d", "a zero middle unit ends the text");
  assertEquals(formatElapsed(-5), "0s");
});

Deno.test("formatDelay: one decimal below a minute", () => {
  assertEquals([formatDelay(400), formatDelay(2_449), formatDelay(59_000), formatDelay(300_000)], [
    "0.4s",
    "2.4s",
    "59s",
    "5m",
  ]);
});

Deno.test("plural", () => {
  assertEquals(plural(1, "record"), "1 record");
  assertEquals(plural(0, "record"), "0 records");
  assertEquals(plural(2, "entry", "entries"), "2 entries");
});
