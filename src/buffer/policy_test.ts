/** The buffer's pure policies with a fake clock. */
import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { CountThrottle, StorageEpisode, VACUUM_STEP_PAGES, vacuumPlan } from "./policy.ts";

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

Deno.test("vacuumPlan: nothing mid-drain, everything once the queue is (nearly) empty", () => {
  // 100,000 queued records in ~12,000 pages, half drained: the free pages wait for reuse.
  assertEquals(vacuumPlan(6_000, 12_000, false), "none");
  assertEquals(vacuumPlan(11_000, 12_000, false), "none"); // 1,000 live pages: more than a sixteenth
  assertEquals(vacuumPlan(11_500, 12_000, false), "rebuild"); // 500 live: copying them is cheap
  assertEquals(vacuumPlan(1_000, 1_050, false), "none"); // under 8 MiB free: not worth it
  // A huge drained backlog with more than 8 MiB still live: bounded incremental steps.
  assertEquals(vacuumPlan(200_000, 210_000, false), VACUUM_STEP_PAGES);
  // Queue empty: 1 MiB free is enough; the live part decides how.
  assertEquals(vacuumPlan(255, 300, true), "none");
  assertEquals(vacuumPlan(12_000, 12_010, true), "rebuild");
  assertEquals(vacuumPlan(12_000, 20_000, true), VACUUM_STEP_PAGES); // 8,000 live pages of dead letters
  // Close: whatever is free.
  assertEquals(vacuumPlan(0, 100, false, true), "none");
  assertEquals(vacuumPlan(3, 100, false, true), "rebuild");
  assertEquals(vacuumPlan(3, 100_000, false, true), Infinity);
});
