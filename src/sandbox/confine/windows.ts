/**
 * Windows confinement of a worker: a Job object per worker process, created by the agent through FFI to
 * kernel32 right after the spawn and before the agent sends `init` (the driver's code is loaded only by
 * `init`, so it never runs outside the job):
 * - KILL_ON_JOB_CLOSE: the agent holds the only handle; when the agent exits or is killed the handle closes
 *   and Windows ends the worker (the counterpart of Linux's parent-death signal);
 * - ACTIVE_PROCESS = 1: the worker cannot start any process (no `system()`, no child that outlives it);
 * - PROCESS_MEMORY: committed memory capped at max_memory_mb plus a margin;
 * - DIE_ON_UNHANDLED_EXCEPTION: no error dialog keeping a crashed worker alive;
 * - CPU rate hard cap: one core's worth of the machine;
 * - UI restrictions: no desktop, clipboard, global atoms, display or system settings, ExitWindows.
 * The worker's environment is already reduced to the variables Deno needs (process.ts, ENV_KEEP).
 *
 * NOT VERIFIED on Windows (this code was written and unit-tested on Linux): the struct layouts follow the
 * documented x64 definitions and are tested for offsets and flag values only; whether the limits behave as
 * described with Deno's process model is unverified. See docs/worker-protocol.md.
 */

/** `JOB_OBJECT_LIMIT_*` flags. */
export const LIMIT = {
  ACTIVE_PROCESS: 0x00000008,
  PROCESS_MEMORY: 0x00000100,
  DIE_ON_UNHANDLED_EXCEPTION: 0x00000400,
  KILL_ON_JOB_CLOSE: 0x00002000,
} as const;

/** `JOBOBJECTINFOCLASS` values used. */
export const INFO_CLASS = { BASIC_UI_RESTRICTIONS: 4, EXTENDED_LIMIT: 9, CPU_RATE_CONTROL: 15 } as const;

/** `JOB_OBJECT_CPU_RATE_CONTROL_*`. */
export const CPU_RATE = { ENABLE: 0x1, HARD_CAP: 0x4 } as const;

/** `JOB_OBJECT_UILIMIT_*` (all eight: handles, clipboard, system parameters, display, atoms, desktop, exit). */
export const UILIMIT_ALL = 0xff;

const PROCESS_TERMINATE = 0x0001;
const PROCESS_SET_QUOTA = 0x0100;

/** Committed-memory headroom of a worker besides the driver's memory (MiB); unmeasured on Windows. */
export const JOB_MEMORY_MARGIN_MB = 1024;

/** `JOBOBJECT_EXTENDED_LIMIT_INFORMATION` (x64: 144 bytes) for a worker. Pure. */
export function extendedLimits(maxMemoryMb: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(144);
  const v = new DataView(b.buffer);
  // BasicLimitInformation: LimitFlags at 16, ActiveProcessLimit at 40 (after two LARGE_INTEGERs, padding and
  // two SIZE_T working-set sizes).
  v.setUint32(
    16,
    LIMIT.ACTIVE_PROCESS | LIMIT.PROCESS_MEMORY | LIMIT.DIE_ON_UNHANDLED_EXCEPTION | LIMIT.KILL_ON_JOB_CLOSE,
    true,
  );
  v.setUint32(40, 1, true);
  // After IO_COUNTERS (48 bytes at 64): ProcessMemoryLimit at 112.
  v.setBigUint64(112, BigInt(maxMemoryMb + JOB_MEMORY_MARGIN_MB) * 1048576n, true);
  return b;
}

/** `JOBOBJECT_CPU_RATE_CONTROL_INFORMATION` (8 bytes): a hard cap of one core out of `cpus`. Pure. */
export function cpuRateLimit(cpus: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, CPU_RATE.ENABLE | CPU_RATE.HARD_CAP, true);
  // CpuRate: cycles per 10,000 of the whole machine.
  v.setUint32(4, Math.max(1, Math.min(10_000, Math.floor(10_000 / Math.max(1, cpus)))), true);
  return b;
}

/** `JOBOBJECT_BASIC_UI_RESTRICTIONS` (4 bytes). Pure. */
export function uiRestrictions(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new Uint32Array([UILIMIT_ALL]).buffer);
}

const SYMBOLS = {
  CreateJobObjectW: { parameters: ["pointer", "pointer"], result: "pointer" },
  SetInformationJobObject: { parameters: ["pointer", "i32", "buffer", "u32"], result: "i32" },
  OpenProcess: { parameters: ["u32", "i32", "u32"], result: "pointer" },
  AssignProcessToJobObject: { parameters: ["pointer", "pointer"], result: "i32" },
  CloseHandle: { parameters: ["pointer"], result: "i32" },
  GetLastError: { parameters: [], result: "u32" },
} as const;

let k32: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | null = null;

/**
 * Puts process `pid` in a new Job object with the limits above. Returns a function that closes the job
 * handle (call it once the worker has exited), or throws naming the call that failed and its error code.
 */
export function assignJobObject(pid: number, maxMemoryMb: number): () => void {
  k32 ??= Deno.dlopen("kernel32.dll", SYMBOLS).symbols;
  const k = k32;
  const job = k.CreateJobObjectW(null, null);
  if (job === null) throw new Error(`CreateJobObjectW failed (error ${k.GetLastError()})`);
  const close = () => void k.CloseHandle(job);
  try {
    const set = (cls: number, info: Uint8Array<ArrayBuffer>, what: string) => {
      if (!k.SetInformationJobObject(job, cls, info, info.length)) {
        throw new Error(`SetInformationJobObject(${what}) failed (error ${k.GetLastError()})`);
      }
    };
    set(INFO_CLASS.EXTENDED_LIMIT, extendedLimits(maxMemoryMb), "extended limits");
    set(INFO_CLASS.CPU_RATE_CONTROL, cpuRateLimit(navigator.hardwareConcurrency || 1), "cpu rate");
    set(INFO_CLASS.BASIC_UI_RESTRICTIONS, uiRestrictions(), "ui restrictions");
    const proc = k.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, 0, pid);
    if (proc === null) throw new Error(`OpenProcess(${pid}) failed (error ${k.GetLastError()})`);
    try {
      if (!k.AssignProcessToJobObject(job, proc)) {
        throw new Error(`AssignProcessToJobObject failed (error ${k.GetLastError()})`);
      }
    } finally {
      k.CloseHandle(proc);
    }
  } catch (e) {
    close();
    throw e;
  }
  return close;
}
