import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { CircuitBreaker } from "./breaker.ts";

const T0 = 1_700_000_000_000;
const COOL = 900_000;

Deno.test("breaker: stays closed below the threshold and opens exactly at it", () => {
  const b = new CircuitBreaker({ threshold: 5, cooldownMs: COOL });
  for (let i = 1; i <= 4; i++) {
    assertEquals(b.recordFailure(T0 + i), null);
    assertEquals(b.state, "closed");
    assertEquals(b.consecutiveFailures, i);
    assert(b.tryAcquire(T0 + i));
  }
  assertEquals(b.recordFailure(T0 + 5), "opened");
  assertEquals(b.state, "open");
  assertEquals(b.openUntil, T0 + 5 + COOL);
  assertEquals(b.consecutiveFailures, 5);
});

Deno.test("breaker: a success below the threshold resets the count", () => {
  const b = new CircuitBreaker({ threshold: 3, cooldownMs: COOL });
  b.recordFailure(T0);
  b.recordFailure(T0 + 1);
  assertEquals(b.recordSuccess(T0 + 2), null);
  assertEquals(b.consecutiveFailures, 0);
  b.recordFailure(T0 + 3);
  b.recordFailure(T0 + 4);
  assertEquals(b.state, "closed");
  assertEquals(b.recordFailure(T0 + 5), "opened");
});

Deno.test("breaker: no attempt during the cooldown, then exactly one probe", () => {
  const b = new CircuitBreaker({ threshold: 1, cooldownMs: COOL });
  assertEquals(b.recordFailure(T0), "opened");
  assertEquals(b.tryAcquire(T0), false);
  assertEquals(b.tryAcquire(T0 + COOL - 1), false);
  assertEquals(b.state, "open");
  assertEquals(b.tryAcquire(T0 + COOL), true);
  assertEquals(b.state, "half_open");
  assertEquals(b.openUntil, null);
  assert(b.probeInFlight);
  assertEquals(b.tryAcquire(T0 + COOL + 1), false, "a second probe must not be handed out");
  assertEquals(b.tryAcquire(T0 + 10 * COOL), false);
});

Deno.test("breaker: probe success closes and resets", () => {
  const b = new CircuitBreaker({ threshold: 2, cooldownMs: COOL });
  b.recordFailure(T0);
  b.recordFailure(T0 + 1);
  assert(b.tryAcquire(T0 + 1 + COOL));
  assertEquals(b.recordSuccess(T0 + 2 + COOL), "closed");
  assertEquals(b.state, "closed");
  assertEquals(b.consecutiveFailures, 0);
  assertEquals(b.probeInFlight, false);
  // Needs the full threshold again to reopen.
  assertEquals(b.recordFailure(T0 + 3 + COOL), null);
  assertEquals(b.recordFailure(T0 + 4 + COOL), "opened");
});

Deno.test("breaker: probe failure reopens for a full cooldown from the failure", () => {
  const b = new CircuitBreaker({ threshold: 2, cooldownMs: COOL });
  b.recordFailure(T0);
  b.recordFailure(T0);
  const probeAt = T0 + COOL + 500;
  assert(b.tryAcquire(probeAt));
  assertEquals(b.recordFailure(probeAt + 3000), "reopened");
  assertEquals(b.state, "open");
  assertEquals(b.openUntil, probeAt + 3000 + COOL);
  assertEquals(b.consecutiveFailures, 3);
  assertEquals(b.tryAcquire(probeAt + 3000 + COOL - 1), false);
  assertEquals(b.tryAcquire(probeAt + 3000 + COOL), true);
});

Deno.test("breaker: outcomes recorded while open (no probe acquired) still settle the state", () => {
  const b = new CircuitBreaker({ threshold: 1, cooldownMs: COOL });
  b.recordFailure(T0);
  assertEquals(b.recordFailure(T0 + 10), "reopened");
  assertEquals(b.openUntil, T0 + 10 + COOL);
  assertEquals(b.recordSuccess(T0 + 20), "closed");
  assertEquals(b.state, "closed");
});

Deno.test("breaker: zero cooldown allows the probe immediately", () => {
  const b = new CircuitBreaker({ threshold: 1, cooldownMs: 0 });
  b.recordFailure(T0);
  assert(b.tryAcquire(T0));
  assertEquals(b.state, "half_open");
});

Deno.test("breaker: invalid policy is rejected", () => {
  assertThrows(() => new CircuitBreaker({ threshold: 0, cooldownMs: 1 }), RangeError, "threshold");
  assertThrows(() => new CircuitBreaker({ threshold: 2.5, cooldownMs: 1 }), RangeError, "threshold");
  assertThrows(() => new CircuitBreaker({ threshold: 1, cooldownMs: -1 }), RangeError, "cooldown");
  assertThrows(() => new CircuitBreaker({ threshold: 1, cooldownMs: Infinity }), RangeError, "cooldown");
});

type Op = { kind: "acquire" | "success" | "failure"; dt: number };

Deno.test("breaker property: matches a reference model over random operation sequences", () => {
  const op = fc.record({
    kind: fc.constantFrom<Op["kind"]>("acquire", "success", "failure", "failure"),
    dt: fc.integer({ min: 0, max: 2000 }),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 3000 }),
      fc.array(op, { maxLength: 80 }),
      (threshold, cooldownMs, ops) => {
        const b = new CircuitBreaker({ threshold, cooldownMs });
        // Reference model, written independently of the implementation.
        let state: "closed" | "open" | "half_open" = "closed";
        let fails = 0;
        let until = 0;
        let probe = false;
        let now = T0;
        for (const o of ops) {
          now += o.dt;
          if (o.kind === "acquire") {
            let expected: boolean;
            if (state === "closed") expected = true;
            else if (state === "open") {
              expected = now >= until;
              if (expected) [state, probe] = ["half_open", true];
            } else {
              expected = !probe;
              probe = true;
            }
            assertEquals(b.tryAcquire(now), expected);
          } else if (o.kind === "success") {
            const t = b.recordSuccess(now);
            assertEquals(t, state === "closed" ? null : "closed");
            [state, fails, probe] = ["closed", 0, false];
          } else {
            const t = b.recordFailure(now);
            fails++;
            probe = false;
            if (state === "closed") {
              if (fails >= threshold) {
                [state, until] = ["open", now + cooldownMs];
                assertEquals(t, "opened");
              } else assertEquals(t, null);
            } else {
              [state, until] = ["open", now + cooldownMs];
              assertEquals(t, "reopened");
            }
          }
          assertEquals(b.state, state);
          assertEquals(b.consecutiveFailures, fails);
          assertEquals(b.openUntil, state === "open" ? until : null);
          // Invariant: open or half-open only with at least `threshold` failures in a row.
          if (state !== "closed") assert(fails >= threshold);
        }
      },
    ),
    { numRuns: 300 },
  );
});
