import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import {
  checkReadingTs,
  checkTelemetry,
  MAX_READINGS_PER_REPLY,
  oneLine,
  parseReply,
  readingTimeProblem,
  TS_MAX_AGE_MS,
  TS_MAX_SKEW_MS,
} from "./protocol.ts";
import { MAX_READINGS_PER_POLL } from "../../drivers/types.ts";

const S = "0123456789abcdef0123456789abcdef";
/** A reply line as the worker writes it: with the spawn's secret. */
const signed = (json: string) => json.replace(/^\{/, `{"auth":"${S}",`);

Deno.test("parseReply: accepts well-formed replies of each type, without the secret in the result", () => {
  const ok = (line: string) => {
    const r = parseReply(signed(line), S);
    assert(r.ok, JSON.stringify(r));
    return r.reply;
  };
  assertEquals(ok('{"type":"hello","protocol":2,"pid":5}'), { type: "hello", protocol: 2, pid: 5 });
  assertEquals(ok('{"type":"ready","id":1}').type, "ready");
  assertEquals(ok('{"type":"closed","id":3}').type, "closed");
  const t = ok('{"type":"telemetry","id":2,"ts":1700000000000,"metrics":{"part_count":3}}');
  assertEquals(t, { type: "telemetry", id: 2, ts: 1700000000000, metrics: { part_count: 3 } });
  const e = ok('{"type":"error","id":4,"code":"driver_error","message":"a\\nb"}');
  assertEquals(e.type === "error" && e.message, "a | b");
  assertEquals(ok('{"type":"fatal","message":"boom"}'), { type: "fatal", message: "boom" });
});

Deno.test("parseReply: names what is wrong with a bad reply", () => {
  const bad = (line: string, sign = true) => {
    const r = parseReply(sign ? signed(line) : line, S);
    assert(!r.ok, `expected a problem for ${line}`);
    return r.problem;
  };
  assertStringIncludes(bad("%% garbage", false), "not JSON");
  assertStringIncludes(bad("[1]", false), "expected a JSON object, got an array");
  assertStringIncludes(bad('{"type":"nope"}'), 'unknown reply type "nope"');
  assertStringIncludes(bad('{"type":"telemetry","id":1,"ts":5,"metrics":{"x":1e999}}'), "finite");
  assertStringIncludes(bad('{"type":"telemetry","id":1,"ts":1.5,"metrics":{}}'), "ts: expected integer");
  assertStringIncludes(bad('{"type":"telemetry","id":0,"ts":1,"metrics":{}}'), "positive integer id");
  assertStringIncludes(bad('{"type":"error","id":1,"code":"other","message":"m"}'), "code: expected");
  assertStringIncludes(bad('{"type":"hello","protocol":"1","pid":1}'), "integer protocol");
});

Deno.test("parseReply: a line without the spawn's secret, or with another, is forged", () => {
  const forged = parseReply('{"type":"telemetry","id":1,"ts":5,"metrics":{}}', S);
  assert(!forged.ok);
  assertStringIncludes(forged.problem, "telemetry reply without the worker's secret");
  const wrong = parseReply(`{"auth":"${"f".repeat(32)}","type":"ready","id":1}`, S);
  assert(!wrong.ok);
  assertStringIncludes(wrong.problem, "ready reply with a wrong secret");
});

Deno.test("checkReadingTs: the past within 7 days and 60 s of future skew pass; beyond, a clear cause", () => {
  const now = Date.UTC(2026, 11, 1, 12);
  assertEquals(checkReadingTs(now, now), null);
  assertEquals(checkReadingTs(now - TS_MAX_AGE_MS, now), null);
  assertEquals(checkReadingTs(now + TS_MAX_SKEW_MS, now), null);
  assertEquals(checkReadingTs(now - 5 * 3_600_000, now), null); // a backlog hours old
  assertStringIncludes(checkReadingTs(now + TS_MAX_SKEW_MS + 1000, now)!, "61 s ahead of the agent's clock");
  assertStringIncludes(checkReadingTs(now - TS_MAX_AGE_MS - 86_400_000, now)!, "8.0 days before");
  assertStringIncludes(checkReadingTs(1, now)!, "1970-01-01T00:00:00.001Z");
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
    auth: S,
  });
  const r = parseReply(line, S);
  assert(r.ok, JSON.stringify(r));
  assertEquals(r.reply.type === "telemetry" && r.reply.readings?.length, 2);
  const bad = (v: Record<string, unknown>) => {
    const r = parseReply(JSON.stringify({ type: "telemetry", id: 1, ts: 1, auth: S, ...v }), S);
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

Deno.test("readingTimeProblem: the reply's ts and every reading's; a backlog of hours passes", () => {
  const now = Date.UTC(2026, 11, 1, 12);
  const hours = (h: number) => now - h * 3_600_000;
  assertEquals(readingTimeProblem(now, [{ ts: hours(30) }, { ts: hours(1) }], now), null);
  assertEquals(readingTimeProblem(now, undefined, now), null);
  // A source clock 10 min ahead passes (the driver warns about it); an hour ahead does not.
  assertEquals(readingTimeProblem(now, [{ ts: now + 10 * 60_000 }], now), null);
  const p = readingTimeProblem(now, [{ ts: hours(1) }, { ts: now + 3_600_000 }], now);
  assertStringIncludes(
    p!,
    "readings[1].ts 2026-12-01T13:00:00.000Z is 3600 s ahead of the agent's clock (at most 900 s",
  );
  assertStringIncludes(readingTimeProblem(1000, [], now)!, "days before the agent's clock");
});
