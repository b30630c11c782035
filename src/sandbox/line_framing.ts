/**
 * Newline-delimited framing with a hard cap on line length, for both ends of the worker protocol.
 *
 * A peer that never sends a newline (or sends megabytes of garbage) must not make the reader buffer without
 * bound: past `maxBytes` the partial line is dropped, one `{ overflow }` item is yielded, and bytes are skipped
 * until the next newline. `\r\n` endings are accepted. Decoding is UTF-8 with replacement characters.
 *
 * Byte streams (pipes of child processes, stdin) are read with a BYOB reader into small buffers
 * (`chunkBytes`): the default reader keeps a 64 KiB buffer per pending read, which for an agent reading the
 * stdout and stderr of 100 workers is ~13 MiB of memory doing nothing.
 */

/** One framed item: a complete line (without its newline), or notice of a line longer than the cap. */
export type LineItem = { readonly line: string } | { readonly overflow: number };

const NL = 10;

/** Default size of one read from a byte stream. */
export const CHUNK_BYTES = 8 * 1024;

/** The chunks of a stream, read into `chunkBytes` buffers when it is a byte stream. */
export async function* readChunks(
  stream: ReadableStream<Uint8Array>,
  chunkBytes = CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: the default reader.
    yield* stream;
    return;
  }
  let done = false;
  try {
    while (!done) {
      const r = await reader.read(new Uint8Array(chunkBytes));
      done = r.done;
      if (r.value && r.value.length > 0) yield r.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Splits a byte stream (or chunks already read, e.g. through an output budget) into lines of at most
 * `maxBytes` bytes. Ends when the stream ends.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  maxBytes: number,
  chunkBytes = CHUNK_BYTES,
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
  const chunks = stream instanceof ReadableStream ? readChunks(stream, chunkBytes) : stream;
  for await (const chunk of chunks) {
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
