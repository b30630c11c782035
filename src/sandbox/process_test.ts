import { assertEquals } from "../../tests/assert.ts";
import { LineLimiter } from "./process.ts";

Deno.test("LineLimiter: max lines per window, the dropped ones reported when the next window opens", () => {
  let t = 0;
  const l = new LineLimiter(3, 1000, () => t);
  const offer = () => l.offer();
  assertEquals([offer(), offer(), offer()].map((o) => o.pass), [true, true, true]);
  assertEquals(offer(), { pass: false, suppressedBefore: 0 });
  assertEquals(offer(), { pass: false, suppressedBefore: 0 });
  t = 999;
  assertEquals(offer().pass, false);
  t = 1000;
  assertEquals(offer(), { pass: true, suppressedBefore: 3 });
  assertEquals(offer().pass, true);
  assertEquals(l.flush(), 0);
  offer();
  assertEquals(offer().pass, false);
  assertEquals(l.flush(), 1);
  assertEquals(l.flush(), 0);
});
