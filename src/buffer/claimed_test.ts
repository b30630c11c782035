/** ClaimedSeqs: whole batches by identity, anything else by an index, checked against a Map model. */
import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { ClaimedSeqs } from "./claimed.ts";

const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `id-${from + i}`);
const seqs = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

Deno.test("ClaimedSeqs: a whole batch, a partial one, unknown and repeated ids", () => {
  const c = new ClaimedSeqs();
  c.add(ids(0, 4), seqs(100, 4));
  c.add(ids(4, 3), seqs(200, 3));
  assertEquals(c.take(ids(4, 3)), [200, 201, 202]); // exactly the second batch
  assertEquals(c.take(ids(4, 3)), []); // settled already
  assertEquals(c.take(["id-2", "nope", "id-0", "id-2"]), [102, 100]);
  assertEquals(c.size, 2);
  c.add(ids(10, 2), seqs(300, 2)); // claimed while the index is in use
  assertEquals(c.take(["id-11", "id-1", "id-3", "id-10"]), [301, 101, 103, 300]);
  assertEquals(c.size, 0);
  c.add(ids(0, 2), seqs(400, 2)); // after everything settled, the same ids may be claimed again
  assertEquals(c.take(["id-1", "id-0"]), [401, 400]);
  c.add(ids(0, 2), seqs(500, 2));
  c.clear();
  assertEquals([c.take(ids(0, 2)), c.size], [[], 0]);
});

Deno.test("ClaimedSeqs: every take returns what a Map<id, seq> would (property)", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("claim" as const), n: fc.integer({ min: 0, max: 6 }) }),
    fc.record({
      kind: fc.constant("take" as const),
      pick: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 8 }),
      whole: fc.boolean(),
    }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
    const c = new ClaimedSeqs();
    const model = new Map<string, number>();
    const batches: string[][] = [];
    let next = 0;
    for (const o of ops) {
      if (o.kind === "claim") {
        const b = ids(next, o.n);
        c.add(b, seqs(next * 10, o.n));
        b.forEach((id, i) => model.set(id, next * 10 + i));
        if (o.n) batches.push(b);
        next += o.n;
        continue;
      }
      const want = o.whole && batches.length
        ? batches[o.pick.length % batches.length]
        : o.pick.map((k) => `id-${k}`);
      const expected: number[] = [];
      for (const id of want) {
        const s = model.get(id);
        if (s === undefined) continue;
        model.delete(id);
        expected.push(s);
      }
      assertEquals(c.take(want), expected);
      assertEquals(c.size, model.size);
    }
  }));
});
