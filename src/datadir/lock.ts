/**
 * One agent per data directory.
 *
 * The holder keeps an exclusive OS file lock on `<data_dir>/agent.lock` (flock on Linux, LockFileEx on
 * Windows, through `Deno.FsFile.tryLockSync`). The OS drops the lock when the process dies in any way,
 * kill -9 included, so a crashed holder never blocks the next start and there is no stale-pid guessing.
 * The holder's pid is written to a separate `agent.pid` (Windows locks are mandatory: the locked file itself
 * cannot be read by others) and is only used for the message.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cleanLeftovers, LOCK_FILE, PID_FILE } from "./mod.ts";

/** Thrown by {@link acquireDataDirLock} when another live process holds the data directory. */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
  /** Pid of the holder as it recorded it, or null when it could not be read. */
  readonly pid: number | null;
  /** @param pid the holder's pid, @param dataDir the directory as given */
  constructor(pid: number | null, readonly dataDir: string) {
    super(`another simco-agent (pid ${pid ?? "unknown"}) is using ${dataDir}`);
    this.pid = pid;
  }
}

/** A held data-directory lock. */
export interface DataDirLock {
  /** Releases the lock (idempotent). */
  release(): void;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readPid(dataDir: string): number | null {
  try {
    const text = Deno.readTextFileSync(join(dataDir, PID_FILE)).trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/**
 * Releases the OS lock. Under Wine, UnlockFileEx always fails with ERROR_LOCK_VIOLATION (os error 33, WineHQ
 * bug 59711) although the lock is held; closing the handle, which always follows, releases it all the same.
 */
function unlock(file: Deno.FsFile): void {
  try {
    file.unlockSync();
  } catch (e) {
    if (!(Deno.build.os === "windows" && String(e).includes("(os error 33)"))) throw e;
  }
}

function openLockFile(dataDir: string): Deno.FsFile {
  return Deno.openSync(join(dataDir, LOCK_FILE), { read: true, write: true, create: true });
}

/**
 * Takes the data directory for this process (creating the directory). Throws {@link DataDirLockedError}
 * (`another simco-agent (pid N) is using <data_dir>`) when another live process holds it. A momentary
 * probe by {@link lockHolder} is waited out (up to ~250 ms).
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = openLockFile(dataDir);
  let locked = false;
  for (let i = 0; i < 6 && !locked; i++) {
    if (i > 0) sleepSync(50);
    locked = file.tryLockSync(true);
  }
  if (!locked) {
    file.close();
    let pid = readPid(dataDir);
    // The holder may have just taken the lock and not yet written its pid.
    for (let i = 0; i < 10 && pid === null; i++) {
      sleepSync(20);
      pid = readPid(dataDir);
    }
    throw new DataDirLockedError(pid, dataDir);
  }
  Deno.writeTextFileSync(join(dataDir, PID_FILE), `${Deno.pid}\n`);
  cleanLeftovers(dataDir);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        if (readPid(dataDir) === Deno.pid) Deno.removeSync(join(dataDir, PID_FILE));
      } catch { /* already gone */ }
      try {
        unlock(file);
      } finally {
        file.close();
      }
    },
  };
}

/**
 * The pid of the live process holding `dataDir`, or null when none does. Probes with a shared lock, which
 * never disturbs a holder; the pid is the one the holder recorded (null lock holder with unreadable pid
 * file reports -1).
 */
export function lockHolder(dataDir: string): number | null {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(join(dataDir, LOCK_FILE), { read: true, write: true });
  } catch {
    return null;
  }
  try {
    if (file.tryLockSync(false)) {
      unlock(file);
      return null;
    }
    return readPid(dataDir) ?? -1;
  } finally {
    file.close();
  }
}
