import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { backoffBoundsMs } from "../util/backoff.ts";
import { type MachinePolicy, MachineSupervisor, type SupervisorEvent } from "./supervisor.ts";
import { seededRandom as seeded } from "../../drivers/simulator/random.ts";

const T0 = 1_700_000_000_000;
const POLICY: MachinePolicy = {
  intervalMs: 1000,
  maxBackoffMs: 300_000,
  breakerThreshold: 5,
  breakerCooldownMs: 900_000,
};

function make(policy: Partial<MachinePolicy> = {}, phaseMs = 0, random = () => 0.5): MachineSupervisor {
  return new MachineSupervisor("mill-01", { ...POLICY, ...policy }, { now: T0, random, phaseMs });
}

/** Runs one attempt at the due time: beginAttempt, then the outcome `ms` later. */
function attempt(s: MachineSupervisor, outcome: "ok" | string, ms = 10): SupervisorEvent[] {
  const at = s.nextAttemptAt();
  assert(s.beginAttempt(at), `attempt at ${at} refused in state ${s.state}`);
  return outcome === "ok" ? s.onSuccess(at + ms) : s.onFailure(at + ms, outcome);
}

Deno.test("supervisor: starts in STARTING at start + phase with the status fields", () => {
  const s = make({}, 370);
  assertEquals(s.nextAttemptAt(), T0 + 370);
  assertEquals(s.snapshot(), {
    id: "mill-01",
    state: "STARTING",
    consecutive_failures: 0,
    last_success_ts: null,
    last_error: null,
    next_attempt_ts: T0 + 370,
    polls_total: 0,
    failures_total: 0,
  });
  assertEquals(s.availability, null);
});

Deno.test("supervisor: successes follow the machine's own grid", () => {
  const s = make({ intervalMs: 2000 }, 300);
  const dues: number[] = [];
  for (let i = 0; i < 5; i++) {
    dues.push(s.nextAttemptAt());
    attempt(s, "ok", 150);
  }
  assertEquals(dues, [0, 1, 2, 3, 4].map((k) => T0 + 300 + 2000 * k));
  assertEquals(s.state, "OK");
  assertEquals(s.snapshot().last_success_ts, T0 + 300 + 8000 + 150);
});

Deno.test("supervisor: 5 failures go CRITICAL, cooldown, PROBING, success recovers to OK", () => {
  const s = make({}, 0, seeded(7));
  const all: SupervisorEvent[] = [];
  for (let n = 1; n <= 4; n++) {
    const before = s.nextAttemptAt();
    const ev = attempt(s, `timeout after 5 s (#${n})`, 5000);
    all.push(...ev);
    assertEquals(s.state, "BACKOFF");
    assertEquals(s.snapshot().consecutive_failures, n);
    const wait = s.nextAttemptAt() - (before + 5000);
    const [lo, hi] = backoffBoundsMs(n, POLICY.maxBackoffMs);
    assert(wait >= lo && wait <= hi, `backoff ${wait} after failure ${n} outside [${lo}, ${hi}]`);
  }
  assertEquals(all, [
    {
      type: "availability",
      machineId: "mill-01",
      availability: "UNAVAILABLE",
      reason: "timeout after 5 s (#1)",
    },
  ]);
  const fifthAt = s.nextAttemptAt();
  const ev = attempt(s, "driver crashed", 20);
  assertEquals(ev, [{
    type: "breaker_open",
    machineId: "mill-01",
    lastError: "driver crashed",
    cooldownMs: 900_000,
    consecutiveFailures: 5,
    reopened: false,
  }]);
  assertEquals(s.state, "CRITICAL");
  assertEquals(s.nextAttemptAt(), fifthAt + 20 + 900_000);
  assertEquals(s.snapshot().next_attempt_ts, fifthAt + 20 + 900_000);
  // No poll during the cooldown.
  assertEquals(s.beginAttempt(fifthAt + 20 + 899_999), false);
  assertEquals(s.state, "CRITICAL");
  // The probe.
  assert(s.beginAttempt(fifthAt + 20 + 900_000));
  assertEquals(s.state, "PROBING");
  assertEquals(s.beginAttempt(fifthAt + 20 + 900_001), false, "only one probe");
  const rec = s.onSuccess(fifthAt + 20 + 900_050);
  assertEquals(rec, [
    { type: "breaker_closed", machineId: "mill-01" },
    { type: "availability", machineId: "mill-01", availability: "AVAILABLE", reason: null },
  ]);
  assertEquals(s.state, "OK");
  const snap = s.snapshot();
  assertEquals(snap.consecutive_failures, 0);
  assertEquals(snap.polls_total, 6);
  assertEquals(snap.failures_total, 5);
  assertEquals(snap.last_error, "driver crashed");
  assertEquals(snap.last_success_ts, fifthAt + 20 + 900_050);
  // Back on the 1 s grid anchored at T0.
  assertEquals((s.nextAttemptAt() - T0) % 1000, 0);
  assert(s.nextAttemptAt() > fifthAt + 20 + 900_050);
});

Deno.test("supervisor: a failed probe reopens the breaker for another cooldown", () => {
  const s = make({ breakerThreshold: 2, breakerCooldownMs: 60_000 });
  attempt(s, "refused");
  attempt(s, "refused");
  assertEquals(s.state, "CRITICAL");
  const probeAt = s.nextAttemptAt();
  assert(s.beginAttempt(probeAt));
  assertEquals(s.state, "PROBING");
  const ev = s.onFailure(probeAt + 30, "still refused");
  assertEquals(ev, [{
    type: "breaker_open",
    machineId: "mill-01",
    lastError: "still refused",
    cooldownMs: 60_000,
    consecutiveFailures: 3,
    reopened: true,
  }]);
  assertEquals(s.state, "CRITICAL");
  assertEquals(s.nextAttemptAt(), probeAt + 30 + 60_000);
});

Deno.test("supervisor: availability events only on transitions", () => {
  const s = make();
  const kinds = (ev: SupervisorEvent[]) => ev.map((e) => e.type === "availability" ? e.availability : e.type);
  assertEquals(attempt(s, "ok"), [
    { type: "availability", machineId: "mill-01", availability: "AVAILABLE", reason: null },
  ]);
  assertEquals(attempt(s, "ok"), []);
  assertEquals(attempt(s, "ok"), []);
  assertEquals(attempt(s, "connection reset"), [
    { type: "availability", machineId: "mill-01", availability: "UNAVAILABLE", reason: "connection reset" },
  ]);
  assertEquals(attempt(s, "another error"), [], "a different error is not a change of availability");
  assertEquals(kinds(attempt(s, "ok")), ["AVAILABLE"]);
  assertEquals(kinds(attempt(s, "ok")), []);
});

Deno.test("supervisor: availabilityAfter n: UNAVAILABLE at the n-th failure in a row, or when the breaker opens", () => {
  const kinds = (ev: SupervisorEvent[]) => ev.map((e) => e.type === "availability" ? e.availability : e.type);
  const s = make({ availabilityAfter: 3 });
  assertEquals(kinds(attempt(s, "ok")), ["AVAILABLE"]);
  for (let i = 0; i < 5; i++) {
    assertEquals(kinds(attempt(s, "flaky")), [], "one failure between successes is no outage");
    assertEquals(kinds(attempt(s, "ok")), []);
  }
  assertEquals(kinds(attempt(s, "e1")), []);
  assertEquals(kinds(attempt(s, "e2")), []);
  const third = attempt(s, "e3");
  assertEquals(third, [{
    type: "availability",
    machineId: "mill-01",
    availability: "UNAVAILABLE",
    reason: "e3",
  }]);
  assertEquals(kinds(attempt(s, "e4")), []);
  assertEquals(kinds(attempt(s, "ok")), ["AVAILABLE"]);
  // The breaker opens first (2 < 8): that marks it UNAVAILABLE.
  const b = make({ availabilityAfter: 8, breakerThreshold: 2 });
  assertEquals(kinds(attempt(b, "x")), []);
  assertEquals(kinds(attempt(b, "x")), ["breaker_open", "UNAVAILABLE"]);
  assertThrows(() => make({ availabilityAfter: 0 }), RangeError, "availabilityAfter");
});

Deno.test("supervisor: a failure at start reports UNAVAILABLE once", () => {
  const s = make();
  assertEquals(kinds(attempt(s, "no route to host")), ["UNAVAILABLE"]);
  assertEquals(kinds(attempt(s, "no route to host")), []);
  function kinds(ev: SupervisorEvent[]) {
    return ev.map((e) => e.type === "availability" ? e.availability : e.type);
  }
});

Deno.test("supervisor: counters restored from a previous run keep counting", () => {
  const s = new MachineSupervisor("m", POLICY, {
    now: T0,
    random: () => 0,
    phaseMs: 0,
    counters: { polls_total: 41, failures_total: 3 },
    lastSuccessTs: T0 - 5000,
  });
  assertEquals(s.snapshot().polls_total, 41);
  assertEquals(s.snapshot().last_success_ts, T0 - 5000);
  attempt(s, "ok");
  attempt(s, "bad frame");
  attempt(s, "bad frame");
  const snap = s.snapshot();
  assertEquals([snap.polls_total, snap.failures_total, snap.consecutive_failures], [44, 5, 2]);
  assertThrows(
    () =>
      new MachineSupervisor("m", POLICY, {
        now: T0,
        random: () => 0,
        counters: { polls_total: -1, failures_total: 0 },
      }),
    RangeError,
    "polls_total",
  );
});

Deno.test("supervisor: stop() ends supervision", () => {
  const s = make();
  attempt(s, "ok");
  s.stop();
  assertEquals(s.state, "STOPPED");
  assertEquals(s.nextAttemptAt(), Infinity);
  assertEquals(s.beginAttempt(T0 + 10_000), false);
  assertEquals(s.onFailure(T0 + 10_000, "late result"), []);
  assertEquals(s.onSuccess(T0 + 10_000), []);
  const snap = s.snapshot();
  assertEquals(snap.state, "STOPPED");
  assertEquals(snap.next_attempt_ts, null);
  assertEquals([snap.polls_total, snap.failures_total], [1, 0]);
});

Deno.test("supervisor: works without beginAttempt (outcome at the due time closes the breaker too)", () => {
  const s = make({ breakerThreshold: 1, breakerCooldownMs: 5000 });
  const t1 = s.nextAttemptAt();
  assertEquals(s.onFailure(t1 + 5, "boom").map((e) => e.type), ["breaker_open", "availability"]);
  assertEquals(s.state, "CRITICAL");
  const t2 = s.nextAttemptAt();
  assertEquals(t2, t1 + 5 + 5000);
  assertEquals(s.onSuccess(t2 + 5).map((e) => e.type), ["breaker_closed", "availability"]);
  assertEquals(s.state, "OK");
  assertEquals(s.nextAttemptAt(), T0 + Math.ceil((t2 + 5 + 1 - T0) / 1000) * 1000);
});

Deno.test("supervisor: a random phase is drawn within the first interval when none is given", () => {
  const s = new MachineSupervisor("m", POLICY, { now: T0, random: () => 0.4321 });
  assertEquals(s.nextAttemptAt(), T0 + 432);
  assertThrows(() =>
    new MachineSupervisor("m", { ...POLICY, intervalMs: 0 }, { now: T0, random: Math.random })
  );
  assertThrows(
    () => new MachineSupervisor("m", { ...POLICY, breakerThreshold: 0 }, { now: T0, random: Math.random }),
    RangeError,
    "threshold",
  );
});

type Step = { ok: boolean; late: number; duration: number; begin: boolean };

Deno.test("supervisor property: state, events, counters and next attempt agree with the rules", () => {
  const step = fc.record({
    ok: fc.boolean(),
    late: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
    duration: fc.integer({ min: 0, max: 8000 }),
    begin: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.record({
        intervalMs: fc.integer({ min: 1, max: 60_000 }),
        maxBackoffMs: fc.integer({ min: 1, max: 600_000 }),
        breakerThreshold: fc.integer({ min: 1, max: 7 }),
        breakerCooldownMs: fc.integer({ min: 0, max: 1_000_000 }),
      }),
      fc.integer(),
      fc.array(step, { maxLength: 60 }),
      (policy, seed, steps: Step[]) => {
        const s = new MachineSupervisor("m", policy, { now: T0, random: seeded(seed) });
        const anchor = s.nextAttemptAt();
        assert(anchor >= T0 && anchor < T0 + policy.intervalMs);
        let cf = 0;
        let polls = 0;
        let fails = 0;
        let avail: string | null = null;
        for (let i = 0; i < steps.length; i++) {
          const st = steps[i];
          const start = s.nextAttemptAt() + st.late;
          if (st.begin) {
            assert(s.beginAttempt(start));
            assertEquals(
              s.state,
              cf >= policy.breakerThreshold ? "PROBING" : i === 0 ? "STARTING" : cf ? "BACKOFF" : "OK",
            );
          }
          const end = start + st.duration;
          const ev = st.ok ? s.onSuccess(end) : s.onFailure(end, `error ${i}`);
          polls++;
          const types = ev.map((e) => e.type);
          const prevCf = cf;
          if (st.ok) {
            cf = 0;
            assertEquals(s.state, "OK");
            assertEquals(types.includes("breaker_closed"), prevCf >= policy.breakerThreshold);
            const next = s.nextAttemptAt();
            assert(next > end, "next poll in the future");
            assertEquals((next - anchor) % policy.intervalMs, 0, "next poll on the grid");
            // Regular polls never closer than interval - grace after a successful one.
            if (st.begin) {
              assert(next - start >= policy.intervalMs - Math.min(Math.floor(policy.intervalMs / 4), 250));
            }
          } else {
            cf++;
            fails++;
            const next = s.nextAttemptAt();
            if (cf >= policy.breakerThreshold) {
              assertEquals(s.state, "CRITICAL");
              const open = ev.find((e) => e.type === "breaker_open");
              assert(open && open.type === "breaker_open", "breaker_open on every failure at/over threshold");
              assertEquals(open.reopened, cf > policy.breakerThreshold);
              assertEquals(open.consecutiveFailures, cf);
              assertEquals(open.lastError, `error ${i}`);
              assertEquals(next, end + policy.breakerCooldownMs);
            } else {
              assertEquals(s.state, "BACKOFF");
              assert(!types.includes("breaker_open"));
              const [lo, hi] = backoffBoundsMs(cf, policy.maxBackoffMs);
              assert(next - end >= lo && next - end <= hi, `backoff ${next - end} not in [${lo}, ${hi}]`);
            }
          }
          const want = st.ok ? "AVAILABLE" : "UNAVAILABLE";
          const av = ev.filter((e) => e.type === "availability");
          if (avail === want) assertEquals(av.length, 0, "no availability event without a change");
          else {
            assertEquals(av, [{
              type: "availability",
              machineId: "m",
              availability: want,
              reason: st.ok ? null : `error ${i}`,
            }]);
            assertEquals(ev[ev.length - 1], av[0], "availability comes last");
          }
          avail = want;
          const snap = s.snapshot();
          assertEquals(
            [snap.consecutive_failures, snap.polls_total, snap.failures_total, snap.next_attempt_ts],
            [cf, polls, fails, s.nextAttemptAt()],
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});
