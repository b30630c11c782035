/**
 * Newline-delimited framing with a hard cap on line length, for both ends of the worker protocol.
 *
 * A peer that never sends a newline (or sends megabytes of garbage) must not make the reader buffer without
 * bound: past `maxBytes` the partial line is dropped, one `{ overflow }` item is yielded, and bytes are skipped
 * until the next newline. `\r\n` endings are accepted. Decoding is UTF-8 with replacement characters.
 */

/** One framed item: a complete line (without its newline), or notice of a line longer than the cap. */
export type LineItem = { readonly line: string } | { readonly overflow: number };

const NL = 10;

/** Splits a byte stream into lines of at most `maxBytes` bytes. Ends when the stream ends. */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<LineItem> {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let size = 0;
  let skipping = false; // inside an over-long line: drop bytes until the next newline
  let skipped = 0;
  const take = (): string => {
    const buf = parts.length === 1 ? parts[0] : concat(parts, size);
    parts = [];
    size = 0;
    let end = buf.length;
    if (end > 0 && buf[end - 1] === 13) end--;
    return decoder.decode(buf.subarray(0, end));
  };
  for await (const chunk of stream) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl === -1 ? chunk.length : nl;
      if (skipping) {
        skipped += end - start;
      } else if (size + (end - start) > maxBytes) {
        skipping = true;
        skipped = size + (end - start);
        parts = [];
        size = 0;
      } else if (end > start) {
        parts.push(chunk.subarray(start, end));
        size += end - start;
      }
      if (nl === -1) break;
      if (skipping) {
        yield { overflow: skipped };
        skipping = false;
        skipped = 0;
      } else {
        yield { line: take() };
      }
      start = nl + 1;
    }
  }
  if (skipping) yield { overflow: skipped };
  else if (size > 0) yield { line: take() };
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
