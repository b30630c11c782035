import { assertEquals } from "../../tests/assert.ts";
import { formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration accepts units and combinations, rejects anything else", () => {
  assertEquals(parseDuration("250ms"), 250);
  assertEquals(parseDuration("5s"), 5000);
  assertEquals(parseDuration("1.5s"), 1500);
  assertEquals(parseDuration("5m"), 300_000);
  assertEquals(parseDuration("1h"), 3_600_000);
  assertEquals(parseDuration("1m30s"), 90_000);
  for (const bad of ["", "5", "5 s", "s", "-1s", "1d", "1.s", "5sec"]) {
    assertEquals(parseDuration(bad), null, bad);
  }
});

Deno.test("formatDuration round-trips through parseDuration", () => {
  for (const ms of [0, 250, 1000, 1500, 60_000, 90_000, 900_000, 3_600_000, 5_400_000]) {
    assertEquals(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
  }
});
