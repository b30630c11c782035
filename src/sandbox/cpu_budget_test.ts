import { assertEquals } from "../../tests/assert.ts";
import { CpuWindow } from "./cpu_budget.ts";

Deno.test("CpuWindow: nothing before the samples span a window; then the window's average against the budget", () => {
  const w = new CpuWindow(50, 10_000);
  assertEquals(w.add(0, 0), null);
  assertEquals(w.add(5_000, 5_000), null); // 100 % but only half a window
  assertEquals(w.add(10_000, 10_000), 100);
  const idle = new CpuWindow(50, 10_000);
  for (let t = 0; t <= 30_000; t += 1000) assertEquals(idle.add(t, t * 0.3), null); // 30 %: under
});

Deno.test("CpuWindow: a start-up burst ages out; a later spike is averaged over the window", () => {
  const w = new CpuWindow(50, 10_000);
  let cpu = 0;
  const seen: (number | null)[] = [];
  for (let t = 0; t <= 40_000; t += 1000) {
    if (t === 1000) cpu += 800; // process start: 0.8 s of CPU at once
    else if (t > 20_000 && t <= 22_000) cpu += 1000; // 2 s at one full core
    else cpu += 20;
    seen.push(w.add(t, cpu));
  }
  assertEquals(seen.every((x) => x === null), true, JSON.stringify(seen));
  const busy = new CpuWindow(50, 4_000);
  const over: (number | null)[] = [];
  for (let t = 0; t <= 10_000; t += 1000) over.push(busy.add(t, t * 2)); // 200 %: eight busy threads, 2 cores
  assertEquals(over.slice(0, 4), [null, null, null, null]);
  assertEquals(over[4], 200);
});
