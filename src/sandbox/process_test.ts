import { assert } from "../../tests/assert.ts";
import { outputBudgets } from "./process.ts";

Deno.test("outputBudgets: the largest legal reply always fits the stdout burst and the rate", () => {
  for (const line of [1024, 1 << 20, 8 << 20]) {
    const b = outputBudgets(line);
    assert(b.stdout.burstBytes >= 2 * (line + 1), `burst ${b.stdout.burstBytes} for lines of ${line}`);
    assert(b.stdout.bytesPerSecond >= line);
  }
  assert(outputBudgets(1 << 20).stderr.burstBytes >= 64 * 1024);
});
