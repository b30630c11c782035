/** The buffer's pure policies with a fake clock. */
import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { CountThrottle, StorageEpisode } from "./policy.ts";

Deno.test("StorageEpisode: one start per episode, backoff doubles to the cap, recovery resets", () => {
  const e = new StorageEpisode(100, 1000);
  assertEquals([e.active, e.error, e.retryMs], [false, null, 100]);
  assertEquals(e.fail("database or disk is full", 5_000), true);
  assertEquals(e.fail("database or disk is full", 5_100), false);
  assertEquals(e.fail("disk I/O error", 5_300), false);
  assertEquals([e.active, e.error, e.retryMs], [true, "disk I/O error", 400]);
  for (let i = 0; i < 10; i++) e.fail("x", 6_000 + i);
  assertEquals(e.retryMs, 1000);
  assertEquals(e.recover(8_000), 3_000);
  assertEquals([e.active, e.retryMs, e.recover(9_000)], [false, 100, null]);
  assertEquals(e.fail("again", 10_000), true);
});

Deno.test("CountThrottle: nothing is lost and at most one release per interval", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(50), fc.nat(30_000)), { maxLength: 60 }), (steps) => {
      const t = new CountThrottle(60_000);
      let now = 0;
      let released = 0;
      let added = 0;
      const times: number[] = [];
      for (const [n, dt] of steps) {
        now += dt;
        added += n;
        const out = t.add(n, now);
        if (out !== null) {
          released += out;
          times.push(now);
        }
      }
      assertEquals(released + t.drain(), added);
      for (let i = 1; i < times.length; i++) assertEquals(times[i] - times[i - 1] >= 60_000, true);
    }),
  );
});
