import { assert, assertEquals } from "../../tests/assert.ts";
import { backoffDelayMs, BackoffSchedule, DRAIN_RETRY_PAUSE_MS, parseRetryAfter } from "./backoff.ts";

Deno.test("backoff waits stay within [2^n, 2^n + 1] s, capped at the maximum", () => {
  const max = 300_000;
  for (const r of [0, 0.5, 0.999999]) {
    const s = new BackoffSchedule(max, () => r);
    let now = 1_000_000; // fake time
    for (let n = 1; n <= 12; n++) {
      const next = s.next({ kind: "retryable", retryAfterMs: null }, now);
      const wait = next - now;
      const lo = Math.min(max, 2 ** n * 1000);
      const hi = Math.min(max, (2 ** n + 1) * 1000);
      assert(wait >= lo && wait <= hi, `n=${n} r=${r}: wait ${wait} not in [${lo}, ${hi}]`);
      assertEquals(s.failures, n);
      now = next;
    }
  }
  assertEquals(backoffDelayMs(1000, 5000, () => 0.5), 5000);
});

Deno.test("a success resets the schedule; config problems wait the maximum", () => {
  const s = new BackoffSchedule(60_000, () => 0);
  s.next({ kind: "retryable", retryAfterMs: null }, 0);
  s.next({ kind: "retryable", retryAfterMs: null }, 0);
  assertEquals(s.next({ kind: "success" }, 10), 10);
  assertEquals(s.failures, 0);
  assertEquals(s.next({ kind: "retryable", retryAfterMs: null }, 0), 2000);
  assertEquals(s.next({ kind: "config" }, 100), 60_100);
});

Deno.test("Retry-After (seconds or HTTP date) is honoured up to the maximum, also in drain mode", () => {
  const now = Date.parse("2026-11-27T22:00:00Z");
  assertEquals(parseRetryAfter("120", now), 120_000);
  assertEquals(parseRetryAfter("Fri, 27 Nov 2026 22:00:30 GMT", now), 30_000);
  assertEquals(parseRetryAfter("Fri, 27 Nov 2026 21:00:00 GMT", now), 0);
  assertEquals(parseRetryAfter("soon", now), null);
  assertEquals(parseRetryAfter(null, now), null);
  const s = new BackoffSchedule(60_000, () => 0);
  assertEquals(s.next({ kind: "retryable", retryAfterMs: 5_000 }, 0), 5_000);
  assertEquals(s.next({ kind: "retryable", retryAfterMs: 3_600_000 }, 0), 60_000);
  assertEquals(s.next({ kind: "retryable", retryAfterMs: 7_000 }, 0, true), 7_000);
  assertEquals(s.next({ kind: "retryable", retryAfterMs: null }, 0, true), DRAIN_RETRY_PAUSE_MS);
});
