import { assertEquals } from "../../tests/assert.ts";
import { type HealthInput, healthOf, isLoopback } from "./health.ts";

const OK: HealthInput = {
  bufferStorageError: null,
  uplinkState: "ok",
  uplinkLastError: null,
  machineStates: ["OK", "CRITICAL"],
  statusWrittenAt: 1000,
  statusFailing: false,
  staleAfterMs: 10_000,
  now: 2000,
};

Deno.test("health: ok on a normal bad day (one machine CRITICAL, uplink in backoff)", () => {
  assertEquals(healthOf(OK), { status: "ok", reasons: [] });
  assertEquals(healthOf({ ...OK, uplinkState: "backoff", uplinkLastError: "HTTP 503" }).status, "ok");
});

Deno.test("health: each reason on its own line", () => {
  const h = healthOf({
    ...OK,
    bufferStorageError: "database or disk is full",
    uplinkState: "auth_error",
    uplinkLastError: "HTTP 401",
    machineStates: ["CRITICAL", "CRITICAL"],
    now: 20_000,
  });
  assertEquals(h, {
    status: "unhealthy",
    reasons: [
      "buffer unwritable: database or disk is full",
      "uplink auth_error: HTTP 401",
      "all 2 machines CRITICAL",
      "status stale: status.json last written 19s ago",
    ],
  });
  assertEquals(healthOf({ ...OK, statusFailing: true }).reasons, [
    "status stale: status.json cannot be written",
  ]);
  assertEquals(healthOf({ ...OK, machineStates: [] }).status, "ok", "no machines: nothing CRITICAL");
});

Deno.test("isLoopback", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) assertEquals(isLoopback(h), true, h);
  for (const h of ["0.0.0.0", "::", "192.168.1.5", "plant-pc"]) assertEquals(isLoopback(h), false, h);
});
