import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  defaultGraceMs,
  firstSlotAtOrAfter,
  nextDueAfterPoll,
  nextSlotAfter,
  randomPhaseMs,
  spreadPhaseMs,
} from "./scheduler.ts";

const T0 = 1_700_000_000_000;

Deno.test("scheduler: slot helpers", () => {
  assertEquals(nextSlotAfter(T0, 1000, T0), T0 + 1000);
  assertEquals(nextSlotAfter(T0, 1000, T0 + 999), T0 + 1000);
  assertEquals(nextSlotAfter(T0, 1000, T0 - 1), T0);
  assertEquals(nextSlotAfter(T0, 1000, T0 - 1500), T0 - 1000);
  assertEquals(firstSlotAtOrAfter(T0, 1000, T0), T0);
  assertEquals(firstSlotAtOrAfter(T0, 1000, T0 + 1), T0 + 1000);
  assertEquals(defaultGraceMs(1000), 250);
  assertEquals(defaultGraceMs(100), 25);
  assertEquals(defaultGraceMs(60_000), 250);
});

Deno.test("scheduler: an on-time poll keeps the cadence, timer jitter within grace does not drift", () => {
  const t = { anchorMs: T0, intervalMs: 1000 };
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0, finishedAt: T0 + 40 }), T0 + 1000);
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0 + 30, finishedAt: T0 + 900 }), T0 + 1000);
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0 + 250, finishedAt: T0 + 300 }), T0 + 1000);
});

Deno.test("scheduler: a late poll skips the next slot instead of firing right after", () => {
  const t = { anchorMs: T0, intervalMs: 1000 };
  // Started 600 ms late: the next slot (T0+1000) is only 400 ms later, so it is skipped.
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0 + 600, finishedAt: T0 + 700 }), T0 + 2000);
});

Deno.test("scheduler: a poll that ran over several slots does not catch up", () => {
  const t = { anchorMs: T0, intervalMs: 1000 };
  // Started on time, hung for 4.5 intervals: next is the first slot after it ended, not 4 polls in a row.
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0, finishedAt: T0 + 4500 }), T0 + 5000);
  // Ended exactly on a slot: that slot is not in the future any more, take the following one.
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0, finishedAt: T0 + 3000 }), T0 + 4000);
});

Deno.test("scheduler: a poll started off the grid (a retry) returns to the grid", () => {
  const t = { anchorMs: T0, intervalMs: 10_000 };
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0 + 12_345, finishedAt: T0 + 12_400 }), T0 + 30_000);
  assertEquals(nextDueAfterPoll({ ...t, startedAt: T0 + 10_100, finishedAt: T0 + 10_400 }), T0 + 20_000);
});

Deno.test("scheduler: 100 machines at 1 s get 100 distinct phases over the first interval", () => {
  const phases = Array.from({ length: 100 }, (_, i) => spreadPhaseMs(i, 100, 1000));
  assertEquals(new Set(phases).size, 100);
  assertEquals(phases[0], 0);
  assertEquals(phases[99], 990);
  for (let i = 1; i < 100; i++) assertEquals(phases[i] - phases[i - 1], 10);
  assertThrows(() => spreadPhaseMs(100, 100, 1000), RangeError, "index");
  assertThrows(() => spreadPhaseMs(0, 0, 1000), RangeError, "count");
  assertThrows(() => spreadPhaseMs(0, 1, 0), RangeError, "interval");
});

Deno.test("scheduler property: spread phases are within [0, interval), sorted, and no bucket is crowded", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 1, max: 3_600_000 }),
      (count, interval) => {
        const phases = Array.from({ length: count }, (_, i) => spreadPhaseMs(i, count, interval));
        for (let i = 0; i < count; i++) {
          assert(Number.isInteger(phases[i]) && phases[i] >= 0 && phases[i] < interval);
          if (i > 0) assert(phases[i] >= phases[i - 1]);
        }
        // At most ceil(count / interval) machines share one millisecond.
        const perMs = new Map<number, number>();
        for (const p of phases) perMs.set(p, (perMs.get(p) ?? 0) + 1);
        const worst = Math.max(...perMs.values());
        assert(worst <= Math.ceil(count / interval), `${worst} machines on one ms`);
      },
    ),
  );
});

Deno.test("scheduler property: random phases are integers in [0, interval) even for random() near 1", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3_600_000 }),
      fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(1 - Number.EPSILON / 2)),
      (interval, r) => {
        const p = randomPhaseMs(interval, () => r);
        assert(Number.isInteger(p) && p >= 0 && p < interval, `interval=${interval} r=${r} -> ${p}`);
      },
    ),
  );
});

/** One simulated poll: how late it started after its due time and how long it ran. */
const pollArb = (interval: number) =>
  fc.record({
    late: fc.oneof(
      fc.integer({ min: 0, max: Math.max(0, defaultGraceMs(interval)) }),
      fc.integer({ min: 0, max: 5 * interval }),
    ),
    duration: fc.oneof(fc.integer({ min: 0, max: interval }), fc.integer({ min: 0, max: 5 * interval })),
  });

Deno.test("scheduler property: no bursts whatever the lateness and duration of the polls", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 120_000 }).chain((interval) =>
        fc.tuple(
          fc.constant(interval),
          fc.integer({ min: 0, max: interval - 1 }),
          fc.array(pollArb(interval), { minLength: 1, maxLength: 60 }),
        )
      ),
      ([interval, phase, polls]) => {
        const grace = defaultGraceMs(interval);
        const anchor = T0 + phase;
        let due = anchor;
        let prevStart: number | null = null;
        let prevLateAfterSlot = false;
        for (const p of polls) {
          const start = due + p.late;
          const end = start + p.duration;
          if (prevStart !== null) {
            const gap = start - prevStart;
            // Never closer than interval - grace, and a full interval after a poll that started late.
            assert(gap >= interval - grace, `gap ${gap} < ${interval} - ${grace}`);
            if (prevLateAfterSlot) assert(gap >= interval, `gap ${gap} after a late poll`);
          }
          const next = nextDueAfterPoll({
            anchorMs: anchor,
            intervalMs: interval,
            startedAt: start,
            finishedAt: end,
          });
          assert((next - anchor) % interval === 0, "next due is on the machine's grid");
          assert(next > end, "next due is in the future of the poll's end");
          // Skipped slots are only those that were missed or too close: no slot between is a valid choice.
          assert(
            next - interval <= end || next - interval < start + interval - grace,
            `slot ${next - interval} was valid but skipped`,
          );
          prevLateAfterSlot = (start - anchor) % interval > grace;
          prevStart = start;
          due = next;
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("scheduler property: on-time polls keep the exact cadence (due advances by one interval)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 4, max: 120_000 }).chain((interval) =>
        fc.tuple(
          fc.constant(interval),
          fc.array(
            fc.integer({ min: 0, max: defaultGraceMs(interval) }).chain((late) =>
              fc.tuple(fc.constant(late), fc.integer({ min: 0, max: interval - late - 1 }))
            ),
            { minLength: 1, maxLength: 60 },
          ),
        )
      ),
      ([interval, polls]) => {
        let due = T0;
        for (const [late, duration] of polls) {
          const start = due + late;
          const next = nextDueAfterPoll({
            anchorMs: T0,
            intervalMs: interval,
            startedAt: start,
            finishedAt: start + duration,
          });
          assertEquals(next, due + interval);
          due = next;
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("scheduler property: polls in any window are bounded by the window over the interval", () => {
  // 50 simulated polls with arbitrary lateness: within any window of W ms at most floor(W / (I - grace)) + 1.
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 10_000 }).chain((interval) =>
        fc.tuple(fc.constant(interval), fc.array(pollArb(interval), { minLength: 2, maxLength: 50 }))
      ),
      ([interval, polls]) => {
        const grace = defaultGraceMs(interval);
        const starts: number[] = [];
        let due = T0;
        for (const p of polls) {
          const start = due + p.late;
          starts.push(start);
          due = nextDueAfterPoll({
            anchorMs: T0,
            intervalMs: interval,
            startedAt: start,
            finishedAt: start + p.duration,
          });
        }
        for (let i = 0; i < starts.length; i++) {
          for (let j = i + 1; j < starts.length; j++) {
            const w = starts[j] - starts[i];
            assert(j - i <= Math.floor(w / (interval - grace)), `${j - i + 1} polls within ${w} ms`);
          }
        }
      },
    ),
    { numRuns: 100 },
  );
});
