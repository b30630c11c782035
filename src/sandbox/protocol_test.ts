import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { checkTelemetry, MAX_READINGS_PER_REPLY, oneLine, parseReply } from "./protocol.ts";
import { MAX_READINGS_PER_POLL } from "../../drivers/types.ts";

Deno.test("parseReply: accepts well-formed replies of each type", () => {
  const ok = (line: string) => {
    const r = parseReply(line);
    assert(r.ok, JSON.stringify(r));
    return r.reply;
  };
  assertEquals(ok('{"type":"hello","protocol":1,"pid":5,"rss":100}').type, "hello");
  assertEquals(ok('{"type":"ready","id":1,"rss":1}').type, "ready");
  assertEquals(ok('{"type":"closed","id":3,"rss":1}').type, "closed");
  const t = ok('{"type":"telemetry","id":2,"ts":1700000000000,"metrics":{"part_count":3},"rss":7}');
  assertEquals(t, { type: "telemetry", id: 2, ts: 1700000000000, metrics: { part_count: 3 }, rss: 7 });
  const e = ok('{"type":"error","id":4,"code":"driver_error","message":"a\\nb","rss":1}');
  assertEquals(e.type === "error" && e.message, "a | b");
  assertEquals(ok('{"type":"fatal","message":"boom"}'), { type: "fatal", message: "boom" });
});

Deno.test("parseReply: names what is wrong with a bad reply", () => {
  const bad = (line: string) => {
    const r = parseReply(line);
    assert(!r.ok, `expected a problem for ${line}`);
    return r.problem;
  };
  assertStringIncludes(bad("%% garbage"), "not JSON");
  assertStringIncludes(bad("[1]"), "expected a JSON object, got an array");
  assertStringIncludes(bad('{"type":"nope"}'), 'unknown reply type "nope"');
  assertStringIncludes(bad('{"type":"telemetry","id":1,"ts":5,"metrics":{"x":1e999},"rss":1}'), "finite");
  assertStringIncludes(
    bad('{"type":"telemetry","id":1,"ts":1.5,"metrics":{},"rss":1}'),
    "ts: expected integer",
  );
  assertStringIncludes(bad('{"type":"telemetry","id":0,"ts":1,"metrics":{},"rss":1}'), "positive integer id");
  assertStringIncludes(bad('{"type":"telemetry","id":1,"ts":1,"metrics":{}}'), "rss");
  assertStringIncludes(bad('{"type":"error","id":1,"code":"other","message":"m","rss":1}'), "code: expected");
  assertStringIncludes(bad('{"type":"hello","protocol":"1","pid":1,"rss":1}'), "integer protocol");
});

Deno.test("oneLine: flattens newlines and caps length", () => {
  assertEquals(oneLine("a\n  b\r\nc"), "a | b | c");
  assertEquals(oneLine("x".repeat(20), 10), "xxxxxxxxx…");
});

Deno.test("parseReply: a telemetry reply with readings, cursor and status; each reading is checked", () => {
  const line = JSON.stringify({
    type: "telemetry",
    id: 2,
    ts: 5000,
    readings: [{ ts: 1, metrics: { a: 1 } }, { ts: 2, metrics: { a: 2 } }],
    cursor: { next: 9, state: [1, "x"] },
    status: { skew_ms: 12, gaps: 0, note: null },
    rss: 1,
  });
  const r = parseReply(line);
  assert(r.ok, JSON.stringify(r));
  assertEquals(r.reply.type === "telemetry" && r.reply.readings?.length, 2);
  const bad = (v: Record<string, unknown>) => {
    const r = parseReply(JSON.stringify({ type: "telemetry", id: 1, ts: 1, rss: 1, ...v }));
    assert(!r.ok, `expected a problem for ${JSON.stringify(v)}`);
    return r.problem;
  };
  assertStringIncludes(bad({ readings: [{ ts: -1, metrics: {} }] }), "readings[0].ts: expected integer");
  assertStringIncludes(
    bad({ readings: [{ ts: 1, metrics: [] }] }),
    "readings[0].metrics: expected a JSON object",
  );
  assertStringIncludes(bad({ readings: [{ ts: 1, metrics: {} }], metrics: {} }), "got both");
  assertStringIncludes(bad({ metrics: {}, cursor: 1 }), "only allowed with readings");
  assertStringIncludes(bad({ readings: [], status: { a: { b: 1 } } }), "status.a: expected a string");
  assertStringIncludes(
    bad({ readings: Array.from({ length: 1001 }, () => ({ ts: 1, metrics: {} })) }),
    "at most 1000 readings",
  );
  assertEquals(checkTelemetry({ readings: [], cursor: null }), null);
  assertEquals(MAX_READINGS_PER_REPLY, MAX_READINGS_PER_POLL, "the sandbox and the driver contract agree");
});
