import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { backoffBoundsMs, backoffDelayMs } from "./backoff.ts";

/** A random source that returns the given values in turn. */
function seq(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

Deno.test("backoff: first retry waits 2..3 s, then 4..5 s, 8..9 s", () => {
  assertEquals(backoffDelayMs(1, 300_000, seq(0)), 2000);
  assertEquals(backoffDelayMs(1, 300_000, seq(0.999)), 2999);
  assertEquals(backoffDelayMs(2, 300_000, seq(0.5)), 4500);
  assertEquals(backoffDelayMs(3, 300_000, seq(0.25)), 8250);
  assertEquals(backoffDelayMs(5, 300_000, seq(0)), 32_000);
});

Deno.test("backoff: capped at maxMs, including the jitter and huge failure counts", () => {
  assertEquals(backoffDelayMs(8, 300_000, seq(0.9)), 256_900);
  assertEquals(backoffDelayMs(9, 300_000, seq(0)), 300_000);
  assertEquals(backoffDelayMs(8, 256_500, seq(0.9)), 256_500);
  assertEquals(backoffDelayMs(5000, 300_000, seq(0.3)), 300_000);
  assertEquals(backoffDelayMs(1, 1500, seq(0.3)), 1500);
});

Deno.test("backoff: out-of-range random values are clamped into [2^n, 2^n + 1] s", () => {
  assertEquals(backoffDelayMs(1, 300_000, seq(-5)), 2000);
  assertEquals(backoffDelayMs(1, 300_000, seq(7)), 3000);
  assertEquals(backoffDelayMs(1, 300_000, seq(NaN)), 2000);
});

Deno.test("backoff: invalid arguments are rejected with a message naming them", () => {
  assertThrows(() => backoffDelayMs(0, 300_000, Math.random), RangeError, "consecutiveFailures");
  assertThrows(() => backoffDelayMs(1.5, 300_000, Math.random), RangeError, "received 1.5");
  assertThrows(() => backoffDelayMs(1, 0, Math.random), RangeError, "maxMs");
  assertThrows(() => backoffDelayMs(1, NaN, Math.random), RangeError, "maxMs");
});

Deno.test("backoff property: always within [2^n, 2^n + 1] s capped at max, integer ms", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 86_400_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (n, maxMs, r) => {
        const d = backoffDelayMs(n, maxMs, () => r);
        const [lo, hi] = backoffBoundsMs(n, maxMs);
        assert(Number.isInteger(d), `not an integer: ${d}`);
        assert(d >= lo && d <= hi, `n=${n} max=${maxMs} r=${r}: ${d} outside [${lo}, ${hi}]`);
        assert(d <= maxMs);
        if (2 ** n * 1000 + 1000 <= maxMs) assert(d >= 2 ** n * 1000 && d < 2 ** n * 1000 + 1000);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("backoff property: non-decreasing in n for the same random draw, and in the draw for the same n", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1000, max: 3_600_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (n, maxMs, a, b) => {
        assert(backoffDelayMs(n, maxMs, () => a) <= backoffDelayMs(n + 1, maxMs, () => a));
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        assert(backoffDelayMs(n, maxMs, () => lo) <= backoffDelayMs(n, maxMs, () => hi));
      },
    ),
  );
});
