import { assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { checkFields, checkId, checkMachineId, checkMetrics, checkTs } from "./shape.ts";

Deno.test("checkMetrics: plain JSON with finite numbers passes, everything else is named by path", () => {
  assertEquals(checkMetrics({ a: 1, b: "x", c: [true, null, { d: -0.5 }], e: {} }), null);
  assertEquals(checkMetrics(Object.assign(Object.create(null), { a: 1 })), null);
  assertEquals(checkMetrics({ s: NaN }), "metrics.s: expected a finite number, got NaN");
  assertEquals(checkMetrics({ a: [1, Infinity] }), "metrics.a[1]: expected a finite number, got Infinity");
  assertEquals(checkMetrics({ d: new Date(0) }), "metrics.d: expected plain JSON, got an instance of Date");
  assertEquals(checkMetrics({ f: () => 1 }), "metrics.f: expected a JSON value, got function");
  assertEquals(checkMetrics({ u: undefined }), "metrics.u: expected a JSON value, got undefined");
  assertEquals(checkMetrics([1]), "metrics: expected a JSON object, got an array");
  assertEquals(checkMetrics(null), "metrics: expected a JSON object, got null");
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  assertStringIncludes(checkMetrics({ deep }) ?? "", "nested deeper than 32 levels");
});

Deno.test("field checks: each names the field, what was expected and what was received", () => {
  assertEquals(checkId("a".repeat(64)), null);
  assertEquals(checkId("A".repeat(64)), `id: expected 64 lowercase hex digits, got "${"A".repeat(64)}"`);
  assertEquals(checkId(7), "id: expected 64 lowercase hex digits, got 7");
  assertEquals(checkMachineId("m1"), null);
  assertEquals(checkMachineId(""), 'machine_id: expected a non-empty string, got ""');
  assertEquals(checkTs(0), null);
  assertEquals(checkTs(1.5), "ts: expected integer epoch milliseconds >= 0, got 1.5");
  assertEquals(checkTs(-1), "ts: expected integer epoch milliseconds >= 0, got -1");
  assertEquals(checkTs("5"), 'ts: expected integer epoch milliseconds >= 0, got "5"');
  assertEquals(checkFields({ machine_id: "m", ts: 1, metrics: {} }), null);
  assertEquals(
    checkFields({ machine_id: "m", ts: 1, metrics: [] }),
    "metrics: expected a JSON object, got an array",
  );
  assertEquals(checkFields({ machine_id: 3, ts: -1, metrics: null })?.startsWith("machine_id:"), true);
});
