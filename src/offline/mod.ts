/**
 * Offline transfer for air-gapped sites: `export` writes the queued records to a `.simco` file
 * (export_file.ts), `upload` sends such a file through the normal uplink on a connected PC.
 *
 * What export does to the records (the rule: nothing may exist only in a file that might never arrive,
 * unless the user asked for it): by default they stay queued in the buffer, so a connected agent also
 * uploads them later and the cloud drops whichever copy arrives second (same ids). `--remove` deletes them
 * from the buffer, but only after the file has been written, fsynced, renamed into place and read back
 * completely (hash verified). Export claims the records while it writes (the buffer's own crash recovery
 * returns them to the queue if export dies), so it needs the data dir to itself: it refuses while `run` is
 * active. Memory: about 100 bytes per exported record (their ids are held until the end).
 *
 * Upload verifies the whole file before sending anything, sends with the file's agent id and the records'
 * own ids (uploading twice creates no duplicates), retries retryable failures with the normal backoff,
 * and stops at once on a configuration problem. Records the cloud rejects are written next to the file
 * (`<file>.rejected.ndjson`) with the reason; there is no buffer to keep them in.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { acquireDataDirLock, TelemetryBuffer } from "../buffer/mod.ts";
import type { Config } from "../config/types.ts";
import { BackoffSchedule } from "../uplink/backoff.ts";
import { sleep } from "../uplink/timing.ts";
import { deliver } from "../uplink/deliver.ts";
import { type ExportHeader, ExportWriter, readExport, recordLine } from "./export_file.ts";
import { createTransport, resolveApiKey } from "../uplink/http.ts";
import type { ProgressSink } from "../util/progress.ts";
import type { Rejection, WireRecord } from "../wire/protocol.ts";

/** Records claimed per chunk while exporting. */
const EXPORT_CHUNK = 10_000;

/** A problem the user must fix (existing output file, missing key): exit code 2. */
export class OfflineUsageError extends Error {
  override name = "OfflineUsageError";
}

/** Result of {@link exportQueued}. */
export interface ExportReport {
  /** The header written. */
  readonly header: ExportHeader;
  /** Whether the records were removed from the buffer. */
  readonly removed: boolean;
}

/** Writes every queued record of the config's buffer to `out` (see the module comment for `remove`). */
export async function exportQueued(config: Config, out: string, remove: boolean): Promise<ExportReport> {
  if (existsSync(out)) {
    throw new OfflineUsageError(`${out} already exists (choose another name or delete it)`);
  }
  if (!existsSync(dirname(out))) {
    throw new OfflineUsageError(`--out ${out}: folder ${dirname(out)} does not exist`);
  }
  const lock = acquireDataDirLock(config.agent.dataDir);
  const buffer = TelemetryBuffer.open(config.agent.dataDir, {
    maxRecords: config.buffer.maxRecords,
    whenFull: config.buffer.whenFull,
  });
  const ids: string[] = [];
  let writer: ExportWriter | null = null;
  let settled = false;
  try {
    writer = new ExportWriter(out, config.agent.id);
    for (let chunk = buffer.claim(EXPORT_CHUNK); chunk.length; chunk = buffer.claim(EXPORT_CHUNK)) {
      writer.write(chunk);
      for (const r of chunk) ids.push(r.id);
    }
    const header = writer.finish();
    writer = null;
    const check = await readExport(out, EXPORT_CHUNK);
    if (check.count !== ids.length || check.sha256 !== header.sha256) {
      throw new Error(`${out} did not read back as written; records kept in the buffer`);
    }
    if (remove) buffer.ack(ids);
    else buffer.nack(ids);
    settled = true;
    return { header, removed: remove };
  } finally {
    writer?.abort();
    if (!settled && ids.length) buffer.nack(ids);
    await buffer.close();
    lock.release();
  }
}

/** Result of {@link uploadExport}. */
export interface UploadReport {
  /** The file's header. */
  readonly header: ExportHeader;
  /** Records the cloud acknowledged. */
  readonly sent: number;
  /** Records the cloud rejected (written to `rejectedFile`). */
  readonly rejected: number;
  /** Where rejected records were written, or null. */
  readonly rejectedFile: string | null;
}

/** Thrown when the upload stops before the end; carries how far it got. */
export class UploadStoppedError extends Error {
  override name = "UploadStoppedError";
}

/** Sends the records of an export file through `config.uplink`. */
export async function uploadExport(
  config: Config,
  file: string,
  opts: { timeoutMs: number | null; progress: ProgressSink; signal: AbortSignal },
): Promise<UploadReport> {
  const { uplink } = config;
  if (!uplink.url) {
    throw new OfflineUsageError(`uplink.url is not set in ${config.file} (upload needs an ingest url)`);
  }
  try {
    resolveApiKey(uplink);
  } catch (e) {
    throw new OfflineUsageError(e instanceof Error ? e.message : String(e));
  }
  const header = await readExport(file, uplink.batchSize); // verifies before anything is sent
  const deadline = opts.timeoutMs === null ? Infinity : Date.now() + opts.timeoutMs;
  const transport = createTransport({
    url: uplink.url,
    agentId: header.agent_id,
    gzip: uplink.gzip,
    timeoutMs: uplink.timeoutMs,
    caFile: uplink.caFile,
    apiKey: () => resolveApiKey(uplink),
  });
  const schedule = new BackoffSchedule(uplink.maxBackoffMs);
  const rejected: { record: WireRecord; reason: string }[] = [];
  let sent = 0;
  const stopped = (why: string) =>
    new UploadStoppedError(
      `${why}; ${sent} of ${header.count} records sent, ${
        header.count - sent - rejected.length
      } left (uploading the file again is safe: no duplicates)`,
    );
  try {
    opts.progress.update(0, header.count, true);
    await readExport(file, uplink.batchSize, async (batch) => {
      let todo = batch;
      while (todo.length) {
        if (opts.signal.aborted) throw stopped("interrupted");
        const o = await deliver(todo, (recs) => transport.post(recs, opts.signal));
        sent += o.acked.length;
        const byId = new Map(todo.map((r) => [r.id, r]));
        for (const d of o.deadLetters as Rejection[]) {
          rejected.push({ record: byId.get(d.id)!, reason: d.reason });
        }
        opts.progress.update(sent, header.count - sent - rejected.length);
        const p = o.problem;
        if (!p) {
          schedule.next({ kind: "success" }, Date.now());
          break;
        }
        if (p.kind === "aborted") throw stopped("interrupted");
        if (p.kind !== "retry") throw stopped(`the cloud refuses the upload: ${p.reason}`);
        const unsent = new Set(o.unsent);
        todo = todo.filter((r) => unsent.has(r.id));
        const at = schedule.next({ kind: "retryable", retryAfterMs: p.retryAfterMs }, Date.now());
        if (at >= deadline) throw stopped(`timed out (last problem: ${p.reason})`);
        opts.progress.waiting?.(p.reason, at);
        await sleep(at - Date.now(), opts.signal);
      }
    });
  } finally {
    transport.close();
  }
  opts.progress.update(sent, 0, true);
  let rejectedFile: string | null = null;
  if (rejected.length) {
    rejectedFile = `${file}.rejected.ndjson`;
    Deno.writeTextFileSync(
      rejectedFile,
      rejected.map((r) => JSON.stringify({ reason: r.reason, record: JSON.parse(recordLine(r.record)) }))
        .join("\n") +
        "\n",
    );
  }
  return { header, sent, rejected: rejected.length, rejectedFile };
}
