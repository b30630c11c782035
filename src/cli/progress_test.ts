import { assertEquals } from "../../tests/assert.ts";
import { formatEta, progressBar, RateMeter } from "./progress.ts";

Deno.test("progress bar shows sent/left, rate and ETA", () => {
  assertEquals(
    progressBar(250, 750, 50, 10),
    "[###.......] 250 sent  750 left  50 rec/s  ETA 15s",
  );
  assertEquals(progressBar(0, 0, 0, 4), "[####] 0 sent  0 left  0 rec/s  ETA 0s");
  assertEquals(progressBar(0, 10, 0, 4), "[....] 0 sent  10 left  0 rec/s  ETA ?");
  assertEquals([formatEta(59.4), formatEta(185), formatEta(7800)], ["59s", "3m05s", "2h10m"]);
});

Deno.test("rate meter averages over its window (fake time)", () => {
  const m = new RateMeter(1000);
  assertEquals(m.add({ sent: 0, left: 100, at: 0 }), 0);
  assertEquals(m.add({ sent: 50, left: 50, at: 500 }), 100);
  assertEquals(m.add({ sent: 60, left: 40, at: 1000 }), 60);
  assertEquals(m.add({ sent: 60, left: 40, at: 3000 }), 0);
});
