/**
 * Durable small writes: a file is durable only when its bytes are fsynced AND the directory entry that
 * names it is too (a rename is a change to the folder; without an fsync of the folder a power cut can
 * bring back the old name). Used where losing a write after it was reported would lose or repeat data:
 * the export file before `--remove` deletes anything, and the `--since-last` mark.
 *
 * Windows cannot open a folder to fsync it (NTFS journals the rename itself); there {@link syncDir} does
 * nothing, which could not be verified on a Windows machine here.
 */
import { basename, dirname, join } from "node:path";

/** Fsyncs a folder so renames and creations inside it survive a power cut (no-op on Windows). */
export function syncDir(dir: string): void {
  if (Deno.build.os === "windows") return;
  const f = Deno.openSync(dir, { read: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

/** Writes all of `bytes` to an open file. */
export function writeAll(f: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
}

/** Replaces `path` with `text` durably: temp file in the same folder, fsync, rename, fsync of the folder. */
export function writeTextDurably(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${Deno.pid}.tmp`);
  const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    writeAll(f, new TextEncoder().encode(text));
    f.syncSync();
  } finally {
    f.close();
  }
  Deno.renameSync(tmp, path);
  syncDir(dirname(path));
}
