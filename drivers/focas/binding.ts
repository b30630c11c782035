/**
 * The FFI binding of FANUC's FOCAS2 library (`libfwlib32.so`, `Fwlib64.dll`): `Deno.dlopen` of the user's copy,
 * one method per FOCAS function this driver uses, buffers allocated once and reused.
 *
 * Every call is synchronous, never `nonblocking`: a FOCAS handle belongs to the thread that created it, and
 * Deno runs nonblocking calls on a thread pool. A call that blocks blocks only the driver's Web Worker; the
 * worker process stays responsive and the agent's poll timeout kills it. C `long` is 4 bytes in every FOCAS2
 * build (x64 Linux included), hence i32 throughout.
 *
 * All symbols are bound `optional: true` so that a library lacking required ones is refused with their names
 * rather than with the loader's first complaint.
 */
import {
  type AlarmMessage,
  decodeAlarmMessages,
  decodeExecProgram,
  decodeLongParam,
  decodeSpeed,
  decodeSpindleLoads,
  decodeStatInfo,
  decodeSysInfo,
  type ExecProgram,
  IODBPSD_LONG_SIZE,
  ODBALMMSG2_SIZE,
  ODBEXEPRG_SIZE,
  ODBSPEED_SIZE,
  ODBSPLOAD_SIZE,
  ODBST_SIZE,
  ODBSYS_SIZE,
  type Speed,
  type SpindleLoad,
  type StatInfo,
  type SysInfo,
} from "./structs.ts";

const SYMBOLS = {
  cnc_allclibhndl3: { parameters: ["buffer", "u16", "i32", "buffer"], result: "i16", optional: true },
  cnc_freelibhndl: { parameters: ["u16"], result: "i16", optional: true },
  cnc_sysinfo: { parameters: ["u16", "buffer"], result: "i16", optional: true },
  cnc_statinfo: { parameters: ["u16", "buffer"], result: "i16", optional: true },
  cnc_rdspeed: { parameters: ["u16", "i16", "buffer"], result: "i16", optional: true },
  cnc_exeprgname: { parameters: ["u16", "buffer"], result: "i16", optional: true },
  cnc_rdparam: { parameters: ["u16", "i16", "i16", "i16", "buffer"], result: "i16", optional: true },
  cnc_rdalmmsg2: { parameters: ["u16", "i16", "buffer", "buffer"], result: "i16", optional: true },
  cnc_startupprocess: { parameters: ["i32", "buffer"], result: "i16", optional: true },
  cnc_exitprocess: { parameters: [], result: "i16", optional: true },
  cnc_settimeout: { parameters: ["u16", "i32"], result: "i16", optional: true },
  cnc_rdspmeter: { parameters: ["u16", "i16", "buffer", "buffer"], result: "i16", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

/** Functions without which the driver cannot work. */
export const REQUIRED_SYMBOLS = [
  "cnc_allclibhndl3",
  "cnc_freelibhndl",
  "cnc_sysinfo",
  "cnc_statinfo",
  "cnc_rdspeed",
  "cnc_exeprgname",
  "cnc_rdparam",
  "cnc_rdalmmsg2",
] as const;

/** At most this many alarm messages are read per poll. */
export const MAX_ALARMS = 10;
/** At most this many spindles' loads are read per poll. */
export const MAX_SPINDLES = 8;

const LIBRARY_HINT = "FANUC's FOCAS2 library: libfwlib32.so on Linux, Fwlib64.dll on Windows";

/** A call's return code and, when it is EW_OK (0), what it read. */
export type Result<T> = { readonly rc: number; readonly value?: T };

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** Checks `path` and loads it; throws one-line errors naming the file and any missing required symbol. */
export function openFocas(path: string): FocasLibrary {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`options.library: ${path} does not exist (expected ${LIBRARY_HINT})`);
    }
    throw new Error(`options.library: cannot read ${path}: ${(e as Error).message}`);
  }
  if (info.isDirectory) {
    throw new Error(
      `options.library: ${path} is a directory (expected the library file itself, ${LIBRARY_HINT})`,
    );
  }
  if (!info.isFile) {
    throw new Error(`options.library: ${path} is not a regular file (expected ${LIBRARY_HINT})`);
  }
  let lib: Lib;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    throw new Error(
      `options.library: cannot load ${path}: ${(e as Error).message} (expected ${LIBRARY_HINT})`,
    );
  }
  const missing = REQUIRED_SYMBOLS.filter((s) => lib.symbols[s] === null);
  if (missing.length > 0) {
    lib.close();
    throw new Error(
      `options.library: ${path} lacks the required function${missing.length > 1 ? "s" : ""} ` +
        `${missing.join(", ")} (expected ${LIBRARY_HINT})`,
    );
  }
  return new FocasLibrary(lib);
}

const cString = (s: string) => new TextEncoder().encode(s + "\0");

/** The loaded library; one instance per worker. */
export class FocasLibrary {
  readonly #lib: Lib;
  readonly #s: Lib["symbols"];
  readonly #handleOut = new Uint16Array(1);
  readonly #num = new Int16Array(1);
  readonly #sys = new Uint8Array(ODBSYS_SIZE);
  readonly #st = new Uint8Array(ODBST_SIZE);
  readonly #speed = new Uint8Array(ODBSPEED_SIZE);
  readonly #prg = new Uint8Array(ODBEXEPRG_SIZE);
  readonly #param = new Uint8Array(IODBPSD_LONG_SIZE);
  readonly #alm = new Uint8Array(ODBALMMSG2_SIZE * MAX_ALARMS);
  readonly #load = new Uint8Array(ODBSPLOAD_SIZE * MAX_SPINDLES);

  /** Wraps an opened library; use {@link openFocas}. */
  constructor(lib: Lib) {
    this.#lib = lib;
    this.#s = lib.symbols;
  }

  /** Whether an optional function is present. */
  has(name: "cnc_startupprocess" | "cnc_exitprocess" | "cnc_settimeout" | "cnc_rdspmeter"): boolean {
    return this.#s[name] !== null;
  }

  /** cnc_startupprocess(level, logfile); -1 when absent. */
  startupProcess(level: number, logFile: string): number {
    return this.#s.cnc_startupprocess?.(level, cString(logFile)) ?? -1;
  }

  /** cnc_exitprocess(); -1 when absent. */
  exitProcess(): number {
    return this.#s.cnc_exitprocess?.() ?? -1;
  }

  /** cnc_allclibhndl3(ip, port, timeout): the new handle on EW_OK. */
  connect(host: string, port: number, timeoutS: number): Result<number> {
    const rc = this.#s.cnc_allclibhndl3!(cString(host), port, timeoutS, this.#handleOut);
    return rc === 0 ? { rc, value: this.#handleOut[0] } : { rc };
  }

  /** cnc_freelibhndl(h). */
  free(h: number): number {
    return this.#s.cnc_freelibhndl!(h);
  }

  /** cnc_settimeout(h, s); -1 when absent. */
  setTimeout(h: number, seconds: number): number {
    return this.#s.cnc_settimeout?.(h, seconds) ?? -1;
  }

  /** cnc_sysinfo. */
  sysInfo(h: number): Result<SysInfo> {
    const rc = this.#s.cnc_sysinfo!(h, this.#sys);
    return rc === 0 ? { rc, value: decodeSysInfo(this.#sys) } : { rc };
  }

  /** cnc_statinfo. */
  statInfo(h: number): Result<StatInfo> {
    const rc = this.#s.cnc_statinfo!(h, this.#st);
    return rc === 0 ? { rc, value: decodeStatInfo(this.#st) } : { rc };
  }

  /** cnc_rdspeed(type -1: feed and spindle). */
  speed(h: number): Result<Speed> {
    const rc = this.#s.cnc_rdspeed!(h, -1, this.#speed);
    return rc === 0 ? { rc, value: decodeSpeed(this.#speed) } : { rc };
  }

  /** cnc_exeprgname. */
  execProgram(h: number): Result<ExecProgram> {
    const rc = this.#s.cnc_exeprgname!(h, this.#prg);
    return rc === 0 ? { rc, value: decodeExecProgram(this.#prg) } : { rc };
  }

  /** cnc_rdparam(number, axis 0, length 8) of a 4-byte parameter: its value. */
  longParam(h: number, number: number): Result<number> {
    const rc = this.#s.cnc_rdparam!(h, number, 0, IODBPSD_LONG_SIZE, this.#param);
    return rc === 0 ? { rc, value: decodeLongParam(this.#param).ldata } : { rc };
  }

  /** cnc_rdalmmsg2(type -1: all, up to MAX_ALARMS). */
  alarms(h: number): Result<AlarmMessage[]> {
    this.#num[0] = MAX_ALARMS;
    const rc = this.#s.cnc_rdalmmsg2!(h, -1, this.#num, this.#alm);
    const n = Math.max(0, Math.min(MAX_ALARMS, this.#num[0]));
    return rc === 0 ? { rc, value: decodeAlarmMessages(this.#alm, n) } : { rc };
  }

  /** cnc_rdspmeter(type 0: load), when present. */
  spindleLoads(h: number): Result<SpindleLoad[]> {
    const f = this.#s.cnc_rdspmeter;
    if (!f) return { rc: -1 };
    this.#num[0] = MAX_SPINDLES;
    const rc = f(h, 0, this.#num, this.#load);
    const n = Math.max(0, Math.min(MAX_SPINDLES, this.#num[0]));
    return rc === 0 ? { rc, value: decodeSpindleLoads(this.#load, n) } : { rc };
  }

  /** Unloads the library. */
  close(): void {
    this.#lib.close();
  }
}
