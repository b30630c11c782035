/**
 * `export`: writes the buffered records to a `.simco` file, whether or not `run` is active on the data dir.
 *
 * - It reads one consistent snapshot of buffer.db (readSnapshot: a read-only connection, one read
 *   transaction), so collection goes on while it writes. Export never claims records: the running
 *   agent's uploader (if it has an uplink) keeps working undisturbed.
 * - The file is written to a temporary name, fsynced, renamed into place, the folder fsynced, then read
 *   back completely and its hash verified (export_file.ts). Nothing is deleted before that.
 * - `--since-last`: only rows no earlier export's snapshot contained (export_mark.ts). Every successful
 *   export advances the mark, durably, after verification.
 * - `--remove`: deletes the exported records that are still queued. Without `run`, export holds the data-dir
 *   lock and deletes them itself; with `run`, it hands the deletion to the agent (remove_request.ts).
 * - Nothing to export (no buffer, an empty one, or nothing new since the last export): no file at all.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import {
  acquireDataDirLock,
  type DataDirLock,
  DataDirLockedError,
  lockHolder,
  readSnapshot,
  TelemetryBuffer,
} from "../buffer/mod.ts";
import type { Config } from "../config/types.ts";
import { type ExportHeader, ExportWriter, readExport } from "./export_file.ts";
import { OfflineUsageError } from "./mod.ts";
import { readExportMark, writeExportMark } from "./export_mark.ts";
import { removeExported, removeViaRunningAgent } from "./remove_request.ts";

/** Options of {@link exportRecords}. */
export interface ExportOptions {
  /** Delete the exported records from the buffer once the file is verified. */
  readonly remove: boolean;
  /** Only records no earlier export contained. */
  readonly sinceLast: boolean;
  /** Ctrl-C: stops waiting for the running agent (the file stays; nothing is half-removed). */
  readonly signal: AbortSignal;
  /** Called with the pid of `run` when it holds the data dir. */
  readonly onRunning?: (pid: number | null) => void;
  /** Called with true when the removal starts (own, or waiting for the running agent), false when it ends. */
  readonly onWaiting?: (waiting: boolean) => void;
}

/** How an export ended. */
export interface ExportOutcome {
  /** The header written, or null when there was nothing to export (no file written). */
  readonly header: ExportHeader | null;
  /** Records deleted from the buffer (`--remove`), else null. */
  readonly removed: number | null;
  /** Why `--remove` did not happen although the file is complete, or null. */
  readonly removeProblem: string | null;
  /** Pid of the `run` that held the data dir, or null when export had it to itself. */
  readonly runPid: number | null;
}

/** Exports the buffer of `config.agent.dataDir` to `out`; see the module comment. */
export async function exportRecords(
  config: Config,
  out: string,
  opts: ExportOptions,
): Promise<ExportOutcome> {
  if (existsSync(out)) {
    throw new OfflineUsageError(`${out} already exists (choose another name or delete it)`);
  }
  if (!existsSync(dirname(out))) {
    throw new OfflineUsageError(`--out ${out}: folder ${dirname(out)} does not exist`);
  }
  const dataDir = config.agent.dataDir;
  const nothing = { header: null, removed: null, removeProblem: null, runPid: null };
  if (!existsSync(dataDir)) return nothing;
  let lock: DataDirLock | null = null;
  let buffer: TelemetryBuffer | null = null;
  let runPid: number | null = null;
  let writer: ExportWriter | null = null;
  const own = () => {
    lock = acquireDataDirLock(dataDir);
    buffer = TelemetryBuffer.open(dataDir, {
      maxRecords: config.buffer.maxRecords,
      whenFull: config.buffer.whenFull,
    });
    return buffer;
  };
  try {
    try {
      own(); // migrates an old file and returns stale claims to the queue before the snapshot
    } catch (e) {
      if (!(e instanceof DataDirLockedError)) throw e;
      runPid = e.pid;
      opts.onRunning?.(e.pid);
    }
    const since = opts.sinceLast ? readExportMark(dataDir) : null;
    const snap = readSnapshot(dataDir, since, (chunk) => {
      writer ??= new ExportWriter(out, config.agent.id);
      writer.write(
        chunk.map((r) => ({
          id: r.id,
          machine_id: r.machine_id,
          ts: r.ts,
          metrics: JSON.parse(r.metricsJson),
        })),
      );
    });
    if (writer === null) return { ...nothing, runPid };
    const header = (writer as ExportWriter).finish();
    writer = null;
    const check = await readExport(out, 10_000);
    if (check.count !== snap.count || check.sha256 !== header.sha256) {
      throw new Error(`${out} did not read back as written; nothing removed from the buffer`);
    }
    if (snap.mark) writeExportMark(dataDir, snap.mark, out);
    if (!opts.remove) return { header, removed: null, removeProblem: null, runPid };
    if (buffer) {
      opts.onWaiting?.(true); // a Ctrl-C now lets the removal finish (it is quick)
      const removed = await removeExported(buffer, out, header.sha256).finally(() => opts.onWaiting?.(false));
      return { header, removed, removeProblem: null, runPid };
    }
    opts.onWaiting?.(true);
    const outcome = await removeViaRunningAgent(
      dataDir,
      { id: crypto.randomUUID(), pid: Deno.pid, file: out, sha256: header.sha256, count: header.count },
      () => lockHolder(dataDir) !== null,
      opts.signal,
    ).finally(() => opts.onWaiting?.(false));
    if (outcome.kind === "done") return { header, removed: outcome.removed, removeProblem: null, runPid };
    if (outcome.kind === "agent-exited") {
      // `run` stopped meanwhile (perhaps after removing part): finish the job with the lock held.
      const removed = await removeExported(own(), out, header.sha256);
      return { header, removed, removeProblem: null, runPid };
    }
    return { header, removed: null, removeProblem: outcome.error, runPid };
  } finally {
    (writer as ExportWriter | null)?.abort();
    await (buffer as TelemetryBuffer | null)?.close();
    (lock as DataDirLock | null)?.release();
  }
}
