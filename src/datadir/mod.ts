/**
 * The data directory's layout, owned here and nowhere else: every file name under `<data_dir>`, the
 * one-agent-per-data-dir lock, and the atomic JSON writer every small state file goes through.
 *
 * | file                      | written by                                  | read by                       |
 * | ------------------------- | ------------------------------------------- | ----------------------------- |
 * | `buffer.db` (+ -wal, -shm) | the lock holder (buffer/)                   | status, dead-letters (r/o)    |
 * | `agent.lock`, `agent.pid` | the lock holder (lock.ts)                   | status, drain, export         |
 * | `status.json`             | the lock holder only (status_file.ts)       | status, drain, /health        |
 * | `drain-request.json`      | `drain` while `run` holds the lock          | the uploader of `run`         |
 * | `logs/agent.log` (+ .1..) | every command that logs to file (log/)      | people                        |
 * | `buffer.db.corrupt-<t>`   | the buffer when it moves a damaged file     | people                        |
 *
 * {@link writeJsonAtomic} writes a temporary file beside the target, fsyncs it, renames it over the target and
 * fsyncs the folder, so after a power cut the file is either the old or the new document, never empty. On
 * Windows a folder cannot be opened for fsync (NTFS journals the rename itself), and a rename over a file that
 * another process has open for reading can fail for a moment, so it is retried.
 */
import { join } from "node:path";

/** The SQLite buffer. */
export const BUFFER_FILE = "buffer.db";
/** Held (OS file lock) by the one process using the data dir. */
export const LOCK_FILE = "agent.lock";
/** The lock holder's pid (Windows locks are mandatory, so the pid cannot live in the locked file). */
export const PID_FILE = "agent.pid";
/** The one status document (status_file.ts). */
export const STATUS_FILE = "status.json";
/** A drain request from `drain` to the uploader of `run`. */
export const DRAIN_REQUEST_FILE = "drain-request.json";
/** Folder of the rotating log files. */
export const LOGS_DIR = "logs";
/** The current log file inside {@link LOGS_DIR}. */
export const LOG_FILE = "agent.log";
/** Status files of versions before 0.2 (removed by the lock holder at start). */
export const LEGACY_FILES: readonly string[] = ["uplink-status.json"];
const TMP_SUFFIX = ".tmp";

/** Paths of the data dir's files. */
export interface DataDirPaths {
  readonly root: string;
  readonly buffer: string;
  readonly lock: string;
  readonly pid: string;
  readonly status: string;
  readonly drainRequest: string;
  readonly logs: string;
  readonly log: string;
}

/** Every path of a data dir. */
export function dataDirPaths(root: string): DataDirPaths {
  return {
    root,
    buffer: join(root, BUFFER_FILE),
    lock: join(root, LOCK_FILE),
    pid: join(root, PID_FILE),
    status: join(root, STATUS_FILE),
    drainRequest: join(root, DRAIN_REQUEST_FILE),
    logs: join(root, LOGS_DIR),
    log: join(root, LOGS_DIR, LOG_FILE),
  };
}

/** Whether the data dir exists (as a folder). */
export function dataDirExists(root: string): boolean {
  try {
    return Deno.statSync(root).isDirectory;
  } catch {
    return false;
  }
}

const isWindows = Deno.build.os === "windows";

function tmpName(path: string): string {
  return `${path}.${Deno.pid}${TMP_SUFFIX}`;
}

async function renameRetrying(from: string, to: string): Promise<void> {
  for (let i = 0;; i++) {
    try {
      return await Deno.rename(from, to);
    } catch (e) {
      // Windows: a reader holding the target open makes the replace fail briefly.
      if (!isWindows || i >= 20 || !(e instanceof Deno.errors.PermissionDenied)) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function renameRetryingSync(from: string, to: string): void {
  for (let i = 0;; i++) {
    try {
      return Deno.renameSync(from, to);
    } catch (e) {
      if (!isWindows || i >= 20 || !(e instanceof Deno.errors.PermissionDenied)) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), isWindows ? path.lastIndexOf("\\") : -1);
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/**
 * Writes `value` as JSON to `path` atomically and durably (see the module comment). On failure the temporary
 * file is removed and the error thrown; the old document stays in place.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = tmpName(path);
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
    await renameRetrying(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  if (!isWindows) {
    const dir = await Deno.open(dirOf(path), { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  }
}

/** Synchronous {@link writeJsonAtomic}, for small files written from synchronous code (drain requests). */
export function writeJsonAtomicSync(path: string, value: unknown): void {
  const tmp = tmpName(path);
  try {
    const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
      file.syncSync();
    } finally {
      file.close();
    }
    renameRetryingSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created */ }
    throw e;
  }
  if (!isWindows) {
    const dir = Deno.openSync(dirOf(path), { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  }
}

/** Parses a JSON file; null when it is absent, unreadable or not JSON (state files are reports, not truth). */
export function readJson(path: string): unknown {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return null;
  }
}

/**
 * Removes what a killed writer may have left: temporary files of {@link writeJsonAtomic} and status files of
 * older versions. Called by the lock holder only (no other writer can be mid-write then... except a `drain`
 * writing its request, whose temporary file carries its own live pid and is kept).
 */
export function cleanLeftovers(root: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return;
  }
  for (const e of entries) {
    const m = /\.(\d+)\.tmp$/.exec(e.name);
    const stale = m ? Number(m[1]) !== Deno.pid && !e.name.startsWith(DRAIN_REQUEST_FILE) : false;
    if (stale || LEGACY_FILES.includes(e.name)) {
      try {
        Deno.removeSync(join(root, e.name));
      } catch { /* gone */ }
    }
  }
}

export { acquireDataDirLock, type DataDirLock, DataDirLockedError, lockHolder } from "./lock.ts";
