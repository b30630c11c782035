/**
 * The `export --since-last` high-water mark: `<data_dir>/export-mark.json`, the newest buffer row of the
 * last export's snapshot (seq, id, time; see readSnapshot in src/buffer/read.ts for why all three).
 *
 * Written durably (fsync of the file and of the data dir) after the export file is verified and before
 * anything is removed: a power cut before the write only makes the next `--since-last` export those
 * records again (the cloud drops duplicates); it can never make one skip records no file contains.
 */
import { join } from "node:path";
import type { SnapshotMark } from "../buffer/mod.ts";
import { writeTextDurably } from "../util/durable.ts";

/** File name of the mark in the data dir. */
export const EXPORT_MARK_FILE = "export-mark.json";

/** The persisted mark, with what wrote it (for people reading the file). */
export interface ExportMarkFile extends SnapshotMark {
  /** The export file that advanced the mark. */
  readonly file: string;
  /** ISO time of that export. */
  readonly created: string;
}

/** Reads the mark; null when no export has run on this data dir. Throws on a damaged file (one line). */
export function readExportMark(dataDir: string): ExportMarkFile | null {
  const path = join(dataDir, EXPORT_MARK_FILE);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let v: Partial<ExportMarkFile>;
  try {
    v = JSON.parse(text);
  } catch {
    v = {};
  }
  if (!Number.isSafeInteger(v.seq) || typeof v.id !== "string" || !Number.isFinite(v.ts)) {
    throw new Error(
      `${path} is damaged (expected {"seq", "id", "ts", ...}); delete it to export everything queued`,
    );
  }
  return v as ExportMarkFile;
}

/** Persists the mark durably. */
export function writeExportMark(dataDir: string, mark: SnapshotMark, file: string): void {
  const value: ExportMarkFile = {
    seq: mark.seq,
    id: mark.id,
    ts: mark.ts,
    file,
    created: new Date().toISOString(),
  };
  writeTextDurably(join(dataDir, EXPORT_MARK_FILE), JSON.stringify(value) + "\n");
}
