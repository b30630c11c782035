import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { parseResponse } from "./http.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("parseResponse: Content-Length, chunked, read to the end; cut-short and non-HTTP answers throw", () => {
  assertEquals(parseResponse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef")), {
    status: 200,
    body: "abc",
  });
  assertEquals(
    parseResponse(
      bytes(
        "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
      ),
    ),
    { status: 404, body: "abcde" },
  );
  assertEquals(parseResponse(bytes("HTTP/1.0 500 Oops\r\n\r\nall of it")), {
    status: 500,
    body: "all of it",
  });
  assertThrows(
    () => parseResponse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")),
    Error,
    "cut short",
  );
  assertThrows(
    () => parseResponse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")),
    Error,
    "cut short",
  );
  assertThrows(() => parseResponse(bytes("SSH-2.0-OpenSSH\r\n\r\n")), Error, "not an HTTP response");
  assertThrows(() => parseResponse(bytes("garbage")), Error, "no end of headers");
});
