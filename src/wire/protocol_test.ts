/** Request bodies: metrics spliced as stored JSON text give the same bytes as metrics serialised from objects. */
import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import type { Metrics } from "../record/mod.ts";
import { encodeBatch, encodeBatchJson, type RawWireRecord, type WireRecord } from "./protocol.ts";
import { gunzipSync } from "node:zlib";

const ID = "a".repeat(64);

function raw(r: WireRecord): RawWireRecord {
  return { id: r.id, machine_id: r.machine_id, ts: r.ts, metricsJson: JSON.stringify(r.metrics) };
}

/** The body as a plain JSON.stringify of the documented shape (the encoder before metrics were spliced). */
function reference(agent: string, sentAt: number, recs: WireRecord[]): string {
  return JSON.stringify({
    agent_id: agent,
    sent_at: sentAt,
    records: recs.map((r) => ({ id: r.id, machine_id: r.machine_id, ts: r.ts, metrics: r.metrics })),
  });
}

Deno.test("encodeBatchJson: raw and parsed metrics give the reference body, for awkward metrics", () => {
  const tricky: Metrics[] = [
    { b: 1, a: [1, 2, { z: null }], "10": "ten", "2": true },
    { s: 'quote " backslash \\ newline \n \u2028 é 😀 \ud800', neg: -0, big: 1e21, small: 5e-7 },
    {},
  ];
  const recs = tricky.map((metrics, i) => ({
    id: ID,
    machine_id: `m"${i}`,
    ts: 1_700_000_000_000 + i,
    metrics,
  }));
  const want = reference('agent "x"', 42, recs);
  assertEquals(encodeBatchJson('agent "x"', 42, recs), want);
  assertEquals(encodeBatchJson('agent "x"', 42, recs.map(raw)), want);
  assertEquals(encodeBatchJson("a", 1, []), '{"agent_id":"a","sent_at":1,"records":[]}');
  const gz = encodeBatch('agent "x"', 42, recs.map(raw), true);
  assertEquals(gz.contentEncoding, "gzip");
  assertEquals(new TextDecoder().decode(gunzipSync(gz.body as Uint8Array)), want);
});

Deno.test("encodeBatchJson: spliced metrics parse back to the records (property)", () => {
  const metrics = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }) as fc.Arbitrary<Metrics>;
  fc.assert(fc.property(fc.array(metrics, { maxLength: 5 }), fc.string(), (ms, machine) => {
    const recs = ms.map((m, i) => ({ id: ID, machine_id: machine, ts: i, metrics: m }));
    const body = encodeBatchJson("agent", 7, recs.map(raw));
    assertEquals(body, reference("agent", 7, recs));
    assertEquals(JSON.parse(body).records, JSON.parse(JSON.stringify(recs)));
  }));
});
