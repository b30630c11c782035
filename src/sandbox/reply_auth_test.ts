import { assertEquals, assertMatch, assertNotEquals } from "../../tests/assert.ts";
import { checkAuth, isSecret, newSecret, parseSecretLine, secretLine } from "./reply_auth.ts";

Deno.test("newSecret: 32 hex digits, fresh each time; the injected source is used", () => {
  const a = newSecret();
  assert32(a);
  assertNotEquals(a, newSecret());
  assertEquals(newSecret((b) => b.fill(0xab)), "ab".repeat(16));
});

function assert32(s: string) {
  assertMatch(s, /^[0-9a-f]{32}$/);
  assertEquals(isSecret(s), true);
}

Deno.test("secret line round trip; anything else names what was expected", () => {
  const s = newSecret();
  assertEquals(parseSecretLine(secretLine(s).trim()), { secret: s });
  assertMatch((parseSecretLine('{"id":1,"op":"poll"}') as { problem: string }).problem, /spawn secret/);
  assertMatch((parseSecretLine("nope") as { problem: string }).problem, /not JSON/);
  assertMatch((parseSecretLine('{"secret":"AB"}') as { problem: string }).problem, /32 hex digits/);
});

Deno.test("checkAuth: right secret passes; missing, wrong, prefix or longer fail", () => {
  const s = "0123456789abcdef0123456789abcdef";
  assertEquals(checkAuth({ auth: s }, s), null);
  assertMatch(checkAuth({}, s)!, /without the worker's secret/);
  assertMatch(checkAuth({ auth: s.replace("0", "1") }, s)!, /wrong secret/);
  assertMatch(checkAuth({ auth: s.slice(0, 31) }, s)!, /wrong secret/);
  assertMatch(checkAuth({ auth: s + "0" }, s)!, /wrong secret/);
  assertMatch(checkAuth({ auth: 42 }, s)!, /without/);
});
