import { assertEquals } from "../../tests/assert.ts";
import { type LineItem, readLines } from "./line_framing.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => enc.encode(c)));
}

async function collect(stream: ReadableStream<Uint8Array>, max: number): Promise<LineItem[]> {
  const out: LineItem[] = [];
  for await (const item of readLines(stream, max)) out.push(item);
  return out;
}

Deno.test("readLines: lines split across chunks, CRLF, a last line without newline", async () => {
  assertEquals(await collect(streamOf('{"a":', '1}\n{"b"', ":2}\r\n\nlast"), 100), [
    { line: '{"a":1}' },
    { line: '{"b":2}' },
    { line: "" },
    { line: "last" },
  ]);
});

Deno.test("readLines: a line over the cap is dropped and reported once, then reading goes on", async () => {
  assertEquals(await collect(streamOf("ok\n", "x".repeat(6), "x".repeat(6), "\nafter\n"), 10), [
    { line: "ok" },
    { overflow: 12 },
    { line: "after" },
  ]);
  assertEquals(await collect(streamOf("y".repeat(11)), 10), [{ overflow: 11 }]);
  assertEquals(await collect(streamOf("y".repeat(10), "\n"), 10), [{ line: "y".repeat(10) }]);
});

Deno.test("readLines: multi-byte characters split across chunks decode intact", async () => {
  const bytes = new TextEncoder().encode("Ä€😀\n");
  const stream = ReadableStream.from([bytes.subarray(0, 3), bytes.subarray(3)]);
  assertEquals(await collect(stream, 100), [{ line: "Ä€😀" }]);
});

Deno.test("readLines: a byte stream is read in small BYOB chunks, lines longer than a chunk still join", async () => {
  const data = new TextEncoder().encode("a".repeat(50) + "\n" + "b".repeat(10) + "\n");
  let offset = 0;
  const sizes: number[] = [];
  const stream = new ReadableStream({
    type: "bytes",
    pull(c) {
      const req = c.byobRequest!;
      const view = req.view as Uint8Array;
      sizes.push(view.byteLength);
      const n = Math.min(view.byteLength, data.length - offset);
      if (n === 0) {
        c.close();
        req.respond(0);
        return;
      }
      view.set(data.subarray(offset, offset + n));
      offset += n;
      req.respond(n);
    },
  });
  assertEquals(await collect2(stream, 100, 16), [{ line: "a".repeat(50) }, { line: "b".repeat(10) }]);
  assertEquals(sizes.every((s) => s === 16), true);
});

async function collect2(stream: ReadableStream<Uint8Array>, max: number, chunk: number): Promise<LineItem[]> {
  const out: LineItem[] = [];
  for await (const item of readLines(stream, max, chunk)) out.push(item);
  return out;
}
