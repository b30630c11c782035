import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { canonicalJson, InvalidRecordError, makeRecord, recordId } from "./mod.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/record-ids.json", import.meta.url)),
) as {
  vectors: {
    record: { machine_id: string; ts: number; metrics: Record<string, never> };
    canonical: string;
    id: string;
  }[];
};

Deno.test("every shared record-id vector: canonical form and id", () => {
  assertEquals(fixture.vectors.length >= 6, true);
  for (const v of fixture.vectors) {
    assertEquals(canonicalJson(v.record), v.canonical);
    assertEquals(recordId(v.record), v.id);
    assertEquals(makeRecord(v.record.machine_id, v.record.ts, v.record.metrics).id, v.id);
  }
});

Deno.test("canonical numbers: -0, 1e21, 5e-7, nested arrays, unicode keys sorted by UTF-16", () => {
  assertEquals(canonicalJson({ b: -0, a: 1e21, c: 5e-7 }), '{"a":1e+21,"b":0,"c":5e-7}');
  assertEquals(canonicalJson([[1, [2, []]], { z: null }]), '[[1,[2,[]]],{"z":null}]');
  // U+1F600 (surrogate pair D83D) sorts before U+FB01 in UTF-16 order, though after it in code points.
  assertEquals(canonicalJson({ "\uFB01": 1, "\u{1F600}": 2 }), '{"\u{1F600}":2,"\uFB01":1}');
});

Deno.test("non-finite numbers are rejected with the path", () => {
  const e = assertThrows(() => makeRecord("m", 1, { a: { b: [1, NaN] } }), InvalidRecordError);
  assertEquals(e.message, "$.metrics.a.b[1]: expected a finite number, got NaN");
  assertThrows(() => makeRecord("m", 1, { x: Infinity }), InvalidRecordError);
  assertThrows(() => makeRecord("m", 1.5, {}), InvalidRecordError);
  assertThrows(() => makeRecord("", 1, {}), InvalidRecordError);
});
