import { assertEquals } from "../../tests/assert.ts";
import { classify, type PostResult } from "./classify.ts";

const resp = (status: number, body = "", retryAfter: string | null = null): PostResult => ({
  kind: "response",
  status,
  body,
  retryAfter,
});

Deno.test("classification follows the protocol table", () => {
  const kind = (r: PostResult) => classify(r, 0).kind;
  for (const s of [200, 201, 202, 204]) assertEquals(kind(resp(s)), "ok");
  assertEquals(kind(resp(413)), "split");
  assertEquals(kind(resp(400)), "bisect");
  assertEquals(kind(resp(422)), "bisect");
  for (const s of [408, 429, 500, 502, 503, 504, 599]) assertEquals(kind(resp(s)), "retry");
  for (const s of [301, 302, 401, 403, 404, 405, 409, 410, 415, 451]) assertEquals(kind(resp(s)), "config");
  assertEquals(kind({ kind: "network", error: "connection refused" }), "retry");
  assertEquals(kind({ kind: "timeout", timeoutMs: 10 }), "retry");
  assertEquals(kind({ kind: "aborted" }), "aborted");
  assertEquals(kind({ kind: "no_key", error: "x" }), "config");
});

Deno.test("2xx bodies: rejected list read, anything else acknowledges everything", () => {
  assertEquals(classify(resp(200, '{"accepted":1,"rejected":[{"id":"a","reason":"bad"},{"id":"b"}]}'), 0), {
    kind: "ok",
    rejected: [{ id: "a", reason: "bad" }, { id: "b", reason: "rejected" }],
  });
  assertEquals(classify(resp(200, "<html>ok</html>"), 0), { kind: "ok", rejected: [] });
  assertEquals(classify(resp(200, '{"rejected": 5}'), 0), { kind: "ok", rejected: [] });
  const auth = classify(resp(401), 0);
  assertEquals(auth.kind === "config" && auth.auth, true);
  const r = classify(resp(503, "", "12"), 0);
  assertEquals(r.kind === "retry" && r.retryAfterMs, 12_000);
});
