import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { canonicalJson, InvalidRecordError, makeRecord, recordId, type TelemetryRecord } from "./mod.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/record-ids.json", import.meta.url)),
) as {
  vectors: {
    record: TelemetryRecord;
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

Deno.test("integer-like keys sort as strings (UTF-16), not in JavaScript's numeric property order", () => {
  assertEquals(
    canonicalJson({ b: 1, "10": 2, "9": 3, a: { "2": true, "1": false } }),
    '{"10":2,"9":3,"a":{"1":false,"2":true},"b":1}',
  );
  assertThrows(
    () => canonicalJson({ x: undefined }),
    InvalidRecordError,
    "$.x: expected a JSON value, got undefined",
  );
});

Deno.test("canonical JSON of arbitrary JSON: parses back to the same value, keys sorted, stable under key order", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const text = canonicalJson(v);
      // -0 prints as 0; everything else round-trips.
      assertEquals(JSON.parse(text), JSON.parse(JSON.stringify(v)));
      const reversed = JSON.parse(JSON.stringify(v), function (_k, x) {
        if (x && typeof x === "object" && !Array.isArray(x)) {
          return Object.fromEntries(Object.entries(x).reverse());
        }
        return x;
      });
      assertEquals(canonicalJson(reversed), text);
      assertEquals(text, reference(v));
    }),
    { numRuns: 300 },
  );
});

/** An independent, plain implementation of RFC 8785 for JSON values (what the fast path must equal). */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(reference).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${reference(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
