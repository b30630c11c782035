import { assertEquals } from "../../tests/assert.ts";
import { ByteRate, LogBudget, metered } from "./output_budget.ts";

Deno.test("ByteRate: a burst, then the rate; the first byte over is refused", () => {
  let t = 0;
  const r = new ByteRate(1000, 4000, () => t);
  assertEquals(r.take(4000), true);
  assertEquals(r.take(1), false);
  t = 1000;
  assertEquals(r.take(1000), true);
  t = 100_000; // saving up stops at the burst
  assertEquals(r.take(4000), true);
  assertEquals(r.take(1), false);
});

Deno.test("metered: stops at the first chunk over the budget and reports the bytes read", async () => {
  let t = 0;
  async function* endless() {
    for (;;) {
      t += 1; // 1 ms per chunk of 1000 bytes: 1 MB/s against a 10 kB/s budget
      yield new Uint8Array(1000);
    }
  }
  let overAt = -1;
  let passed = 0;
  for await (const c of metered(endless(), new ByteRate(10_000, 5000, () => t), (n) => overAt = n)) {
    passed += c.length;
  }
  assertEquals(passed, 5000);
  assertEquals(overAt, 6000);
});

Deno.test("LogBudget: bytes per window reach the log; the rest is counted and reported once", () => {
  let t = 0;
  const b = new LogBudget(100, 60_000, () => t);
  assertEquals(b.offer(60), { pass: true, dropped: null });
  assertEquals(b.offer(60).pass, false);
  assertEquals(b.offer(40).pass, true);
  assertEquals(b.offer(1).pass, false);
  t = 60_000;
  assertEquals(b.offer(10), { pass: true, dropped: { bytes: 61, lines: 2 } });
  assertEquals(b.flush(), null);
});
