/**
 * The offline transfer file (`.simco`) for air-gapped sites: gzip-compressed NDJSON.
 *
 * Line 1 is a header, every further line one record in wire form (`{"id","machine_id","ts","metrics"}`):
 * `{"format":"simco-export","version":1,"agent_id":"...","count":N,"created":"<ISO 8601>","sha256":"<hex>"}`
 * where `sha256` is the lowercase hex SHA-256 of the record lines exactly as stored (UTF-8, each line with
 * its trailing "\n"). The header is its own gzip member written in front of the records' member (readers
 * see one stream), so records can be streamed to disk while the hash is computed.
 *
 * Reading verifies everything before anything is sent: gzip integrity (a truncated file fails), the
 * header, the count, the SHA-256, and each record's id against its content. Any mismatch is one line.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createGunzip, gzipSync } from "node:zlib";
import { basename, dirname, join } from "node:path";
import { ID_PATTERN, recordId } from "../record/mod.ts";
import { syncDir, writeAll } from "../util/durable.ts";
import type { WireRecord } from "../wire/protocol.ts";

/** Format name in the header. */
export const EXPORT_FORMAT = "simco-export";
/** Format version in the header. */
export const EXPORT_VERSION = 1;

/** The header line. */
export interface ExportHeader {
  /** Always {@link EXPORT_FORMAT}. */
  readonly format: string;
  /** Always {@link EXPORT_VERSION}. */
  readonly version: number;
  /** The agent the records come from. */
  readonly agent_id: string;
  /** Number of record lines. */
  readonly count: number;
  /** ISO 8601 time the file was written. */
  readonly created: string;
  /** SHA-256 of the record lines. */
  readonly sha256: string;
}

/** Thrown when a file is not a complete, unaltered export; the message is one line naming the file. */
export class ExportFileError extends Error {
  override name = "ExportFileError";
}

/** Writes records in chunks to `<out>`, atomically (temp file, fsync, rename). */
export class ExportWriter {
  readonly #tmp: string;
  readonly #file: Deno.FsFile;
  readonly #hash = createHash("sha256");
  #count = 0;

  /** Starts writing next to `out` (a temp file in the same folder). */
  constructor(readonly out: string, readonly agentId: string) {
    this.#tmp = join(dirname(out), `.${basename(out)}.${Deno.pid}.records.tmp`);
    this.#file = Deno.openSync(this.#tmp, { write: true, create: true, truncate: true });
  }

  /** Appends records (one gzip member per call). */
  write(records: readonly WireRecord[]): void {
    if (!records.length) return;
    const text = records.map((r) => recordLine(r)).join("");
    this.#hash.update(text, "utf8");
    this.#count += records.length;
    writeAll(this.#file, new Uint8Array(gzipSync(text, { level: 6 })));
  }

  /**
   * Finishes the file: header member first, then the records; fsync; rename into place; fsync the folder,
   * so the file is on disk under its final name when this returns.
   */
  finish(): ExportHeader {
    this.#file.syncSync();
    this.#file.close();
    const header: ExportHeader = {
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      agent_id: this.agentId,
      count: this.#count,
      created: new Date().toISOString(),
      sha256: this.#hash.digest("hex"),
    };
    const partial = `${this.out}.${Deno.pid}.tmp`;
    const f = Deno.openSync(partial, { write: true, create: true, truncate: true });
    try {
      writeAll(f, new Uint8Array(gzipSync(JSON.stringify(header) + "\n")));
      const src = Deno.openSync(this.#tmp, { read: true });
      try {
        const buf = new Uint8Array(1 << 20);
        for (let n = src.readSync(buf); n !== null; n = src.readSync(buf)) writeAll(f, buf.subarray(0, n));
      } finally {
        src.close();
      }
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(partial, this.out);
    syncDir(dirname(this.out));
    Deno.removeSync(this.#tmp);
    return header;
  }

  /** Abandons the file (removes temp files). */
  abort(): void {
    try {
      this.#file.close();
    } catch { /* closed */ }
    for (const p of [this.#tmp, `${this.out}.${Deno.pid}.tmp`]) {
      try {
        Deno.removeSync(p);
      } catch { /* absent */ }
    }
  }
}

/** One record line (with "\n"), in the exact wire form. */
export function recordLine(r: WireRecord): string {
  return JSON.stringify({ id: r.id, machine_id: r.machine_id, ts: r.ts, metrics: r.metrics }) + "\n";
}

/**
 * Streams an export file: verifies it completely first (pass 1), then calls `onBatch` with records in
 * batches of `batchSize` (pass 2). Throws {@link ExportFileError} before any batch when the file is
 * truncated, altered, or not an export.
 */
export async function readExport(
  path: string,
  batchSize: number,
  onBatch?: (records: WireRecord[]) => Promise<void>,
): Promise<ExportHeader> {
  const header = await scan(path, null);
  if (onBatch) await scan(path, { batchSize, onBatch });
  return header;
}

async function scan(
  path: string,
  emit: { batchSize: number; onBatch: (records: WireRecord[]) => Promise<void> } | null,
): Promise<ExportHeader> {
  const name = path;
  try {
    const st = Deno.statSync(path);
    if (st.isDirectory) throw new ExportFileError(`${name} is a directory (expected a .simco file)`);
  } catch (e) {
    if (e instanceof ExportFileError) throw e;
    throw new ExportFileError(
      `${name}: ${e instanceof Deno.errors.NotFound ? "file not found" : "cannot read"}`,
    );
  }
  const stream = createReadStream(path).pipe(createGunzip());
  let streamError: Error | null = null;
  let header = null as ExportHeader | null;
  const hash = createHash("sha256");
  let count = 0;
  let batch: WireRecord[] = [];
  const onLine = async (line: string) => {
    if (header === null) {
      header = parseHeader(line, name);
      return;
    }
    hash.update(line + "\n", "utf8");
    count++;
    const record = parseRecord(line, count + 1, name);
    if (emit) {
      batch.push(record);
      if (batch.length >= emit.batchSize) {
        await emit.onBatch(batch);
        batch = [];
      }
    }
  };
  // Lines split by hand over the stream's async iterator, which pulls (backpressure): a slow upload never
  // makes the whole file pile up in memory.
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      const text = rest + decoder.decode(chunk as Uint8Array, { stream: true });
      const lines = text.split("\n");
      rest = lines.pop()!;
      for (const line of lines) await onLine(line);
    }
    rest += decoder.decode();
    if (rest !== "") await onLine(rest);
  } catch (e) {
    if (e instanceof ExportFileError) throw e;
    streamError = e as Error;
  } finally {
    stream.destroy();
  }
  if (streamError) {
    const msg = (streamError as Error).message;
    throw new ExportFileError(
      /unexpected end|incorrect header|invalid|unknown compression/i.test(msg)
        ? `${name} is truncated or not a gzip .simco file (${msg})`
        : `${name}: cannot read (${msg})`,
    );
  }
  if (header === null) throw new ExportFileError(`${name} is empty (expected a .simco export)`);
  if (count !== header.count) {
    throw new ExportFileError(
      `${name} is truncated or altered: header says ${header.count} records, found ${count}`,
    );
  }
  const digest = hash.digest("hex");
  if (digest !== header.sha256) {
    throw new ExportFileError(`${name} has been altered: SHA-256 of the records does not match the header`);
  }
  if (emit && batch.length) await emit.onBatch(batch);
  return header;
}

function parseHeader(line: string, name: string): ExportHeader {
  let h: Partial<ExportHeader>;
  try {
    h = JSON.parse(line);
  } catch {
    throw new ExportFileError(`${name} is not a .simco export (first line is not a JSON header)`);
  }
  if (h?.format !== EXPORT_FORMAT) {
    throw new ExportFileError(`${name} is not a .simco export (expected format "${EXPORT_FORMAT}")`);
  }
  if (h.version !== EXPORT_VERSION) {
    throw new ExportFileError(
      `${name}: export version ${h.version} is not supported (expected ${EXPORT_VERSION})`,
    );
  }
  if (
    typeof h.agent_id !== "string" || !Number.isSafeInteger(h.count) || typeof h.sha256 !== "string" ||
    !ID_PATTERN.test(h.sha256)
  ) {
    throw new ExportFileError(`${name}: header is incomplete (expected agent_id, count, created, sha256)`);
  }
  return h as ExportHeader;
}

function parseRecord(line: string, lineNo: number, name: string): WireRecord {
  let r: WireRecord;
  try {
    r = JSON.parse(line);
    if (recordId(r) !== r.id) throw new Error("id mismatch");
  } catch {
    throw new ExportFileError(
      `${name} has been altered or damaged (line ${lineNo}: the record's id does not match its content)`,
    );
  }
  return r;
}
