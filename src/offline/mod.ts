/**
 * Offline transfer for air-gapped sites: `export` (src/offline/export_records.ts) writes the buffered
 * records to a `.simco` file (export_file.ts); `upload` sends such a file through the normal uplink on a
 * connected PC.
 *
 * Upload verifies the whole file before sending anything, sends with the file's agent id and the records'
 * own ids (uploading twice creates no duplicates), retries retryable failures with the normal backoff,
 * and stops at once on a configuration problem. Records the cloud rejects are written next to the file
 * (`<file>.rejected.ndjson`) with the reason; there is no buffer to keep them in.
 */
import type { UplinkSection } from "../config/types.ts";
import { BackoffSchedule } from "../uplink/backoff.ts";
import { sleep } from "../uplink/timing.ts";
import { deliver } from "../uplink/deliver.ts";
import { type ExportHeader, readExport, recordLine } from "./export_file.ts";
import { createTransport, resolveApiKey } from "../uplink/http.ts";
import type { ProgressSink } from "../util/progress.ts";
import type { Rejection, WireRecord } from "../wire/protocol.ts";

/** A problem the user must fix (existing output file, missing key): exit code 2. */
export class OfflineUsageError extends Error {
  override name = "OfflineUsageError";
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
  /** @param message the one-line reason, @param sent records the cloud acknowledged before the stop */
  constructor(message: string, readonly sent: number) {
    super(message);
  }
}

/** Sends the records of an export file through `uplink` (from `--url`/`--api-key-env` or a config). */
export async function uploadExport(
  uplink: UplinkSection,
  file: string,
  opts: { timeoutMs: number | null; progress: ProgressSink; signal: AbortSignal },
): Promise<UploadReport> {
  const url = uplink.url;
  if (!url) {
    throw new OfflineUsageError("upload needs an ingest url: --url URL, or uplink.url in the --config file");
  }
  try {
    resolveApiKey(uplink);
  } catch (e) {
    throw new OfflineUsageError(e instanceof Error ? e.message : String(e));
  }
  const header = await readExport(file, uplink.batchSize); // verifies before anything is sent
  const deadline = opts.timeoutMs === null ? Infinity : Date.now() + opts.timeoutMs;
  const transport = createTransport({
    url,
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
      sent,
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
