/**
 * What a worker process really uses, measured by the agent (the driver shares the worker's stdout and could
 * report anything): resident memory and CPU time, behind one interface per platform.
 *
 * - Linux: `/proc/<pid>/statm` (resident pages; x86-64 pages are 4 KiB) and `/proc/<pid>/stat` (utime + stime
 *   in clock ticks; USER_HZ is 100 on x86-64 Linux). Both count every thread of the process, so nested Web
 *   Workers are included. Two small reads per sample, no parsing of the whole smaps.
 * - Windows: kernel32 through FFI: `OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION)`, `K32GetProcessMemoryInfo`
 *   (WorkingSetSize) and `GetProcessTimes` (kernel + user, 100 ns units). Written against the documented
 *   layouts; the parsers are unit-tested, the FFI calls could not be run here (not verified on Windows).
 * - Elsewhere: no reader (memory and CPU caps are then not enforced; the agent logs that once).
 *
 * The parsers are pure and tested in proc_stats_test.ts; the readers do the I/O.
 */

/** One measurement of a process. */
export interface ProcSample {
  /** Resident memory (Linux RSS, Windows working set), bytes. */
  readonly memoryBytes: number;
  /** CPU time used since the process started (user + system), milliseconds. */
  readonly cpuMs: number;
}

/** Measures processes by id. */
export interface ProcStatsReader {
  /** What it reads, for messages ("/proc", "kernel32"). */
  readonly source: string;
  /** Measures `pid`, or null when the process is gone or cannot be read. */
  sample(pid: number): ProcSample | null;
}

/** x86-64 page size (Linux statm counts pages). */
export const LINUX_PAGE_BYTES = 4096;
/** USER_HZ on x86-64 Linux: /proc/<pid>/stat counts CPU time in 1/100 s. */
export const LINUX_CLOCK_TICKS = 100;

/** Resident bytes from the text of /proc/<pid>/statm (`size resident shared ...`, in pages), or null. */
export function parseStatm(text: string, pageBytes = LINUX_PAGE_BYTES): number | null {
  const resident = Number(text.trim().split(/\s+/)[1]);
  return Number.isSafeInteger(resident) && resident >= 0 ? resident * pageBytes : null;
}

/**
 * CPU milliseconds (utime + stime) from the text of /proc/<pid>/stat, or null. The command name (field 2) is
 * in parentheses and may itself hold spaces and parentheses: fields are counted after the last `)`.
 */
export function parseStatCpuMs(text: string, ticksPerSecond = LINUX_CLOCK_TICKS): number | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const f = text.slice(close + 2).split(" ");
  // After ")": state is field 3, so utime (14) and stime (15) are at indices 11 and 12.
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) return null;
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/** The Linux reader: /proc/<pid>/statm and /proc/<pid>/stat. */
export const linuxReader: ProcStatsReader = {
  source: "/proc",
  sample(pid: number): ProcSample | null {
    try {
      const memoryBytes = parseStatm(Deno.readTextFileSync(`/proc/${pid}/statm`));
      const cpuMs = parseStatCpuMs(Deno.readTextFileSync(`/proc/${pid}/stat`));
      return memoryBytes === null || cpuMs === null ? null : { memoryBytes, cpuMs };
    } catch {
      return null;
    }
  },
};

/** Size of PROCESS_MEMORY_COUNTERS on 64-bit Windows; WorkingSetSize is the u64 at offset 16. */
export const PMC_BYTES = 72;

/** WorkingSetSize from a PROCESS_MEMORY_COUNTERS buffer (64-bit layout). */
export function parseMemoryCounters(buf: Uint8Array): number {
  return Number(new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(16, true));
}

/** Milliseconds in a FILETIME duration (two u32 halves, 100 ns units) stored little-endian at `off`. */
export function filetimeMs(buf: Uint8Array, off = 0): number {
  return Number(new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(off, true)) / 10_000;
}

const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;

/** The Windows reader through kernel32 (not verified here; see the header). */
export function windowsReader(): ProcStatsReader {
  const k32 = Deno.dlopen("kernel32.dll", {
    OpenProcess: { parameters: ["u32", "i32", "u32"], result: "pointer" },
    CloseHandle: { parameters: ["pointer"], result: "i32" },
    GetProcessTimes: { parameters: ["pointer", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
    K32GetProcessMemoryInfo: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  });
  const s = k32.symbols;
  return {
    source: "kernel32",
    sample(pid: number): ProcSample | null {
      const h = s.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
      if (h === null) return null;
      try {
        const pmc = new Uint8Array(PMC_BYTES);
        new DataView(pmc.buffer).setUint32(0, PMC_BYTES, true);
        const times = new Uint8Array(32); // creation, exit, kernel, user
        if (!s.K32GetProcessMemoryInfo(h, pmc, PMC_BYTES)) return null;
        const ok = s.GetProcessTimes(
          h,
          times.subarray(0, 8),
          times.subarray(8, 16),
          times.subarray(16, 24),
          times.subarray(24, 32),
        );
        if (!ok) return null;
        return {
          memoryBytes: parseMemoryCounters(pmc),
          cpuMs: filetimeMs(times, 16) + filetimeMs(times, 24),
        };
      } finally {
        s.CloseHandle(h);
      }
    },
  };
}

let shared: ProcStatsReader | null | undefined;

/** The reader for this platform (created once), or null where none exists. */
export function procStatsReader(): ProcStatsReader | null {
  if (shared !== undefined) return shared;
  try {
    shared = Deno.build.os === "linux" ? linuxReader : Deno.build.os === "windows" ? windowsReader() : null;
  } catch {
    shared = null;
  }
  return shared;
}
