/** seqRuns: how acks and nacks are split into `seq BETWEEN` ranges. */
import fc from "fast-check";
import { assertEquals } from "../../tests/assert.ts";
import { seqRuns } from "./store.ts";

Deno.test("seqRuns: consecutive seqs become ranges, in any input order; too many runs give null", () => {
  assertEquals(seqRuns([], 8), []);
  assertEquals(seqRuns([5, 6, 7, 8], 8), [[5, 8]]);
  assertEquals(seqRuns([9, 3, 4, 10, 5], 8), [[3, 5], [9, 10]]);
  assertEquals(seqRuns([1, 1, 2], 8), [[1, 2]]);
  assertEquals(seqRuns([1, 3, 5], 3), [[1, 1], [3, 3], [5, 5]]);
  assertEquals(seqRuns([1, 3, 5, 7], 3), null);
});

Deno.test("seqRuns: the ranges cover exactly the given seqs (property)", () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 60 }), (seqs) => {
    const runs = seqRuns(seqs, 1000)!;
    const covered: number[] = [];
    for (const [lo, hi] of runs) for (let s = lo; s <= hi; s++) covered.push(s);
    assertEquals(covered, [...new Set(seqs)].sort((a, b) => a - b));
    for (let i = 1; i < runs.length; i++) assertEquals(runs[i][0] > runs[i - 1][1] + 1, true);
  }));
});
