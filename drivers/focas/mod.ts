/**
 * FOCAS2 driver: reads a FANUC control through FANUC's own library (binding.ts), maps what it reads to the
 * shared vocabulary (mapping.ts). See README.md beside this file.
 *
 * Connection lifecycle: the library is loaded and (Linux) `cnc_startupprocess` called once per worker, with its
 * log in the machine's scratch folder; one handle is opened and kept across polls, because a control allows only
 * a few FOCAS connections and reconnecting every poll exhausts them. After EW_SOCKET, EW_HANDLE or EW_PROTOCOL
 * the handle is freed and the next poll reconnects. `close` frees the handle and calls `cnc_exitprocess`.
 * A read the control lacks (EW_FUNC, EW_NOOPT) leaves its metric out and is logged once; any other code fails
 * the poll with the function and the code's name.
 */
import type { Metrics } from "../../src/record/mod.ts";
import type { Driver, DriverContext } from "../types.ts";
import { ENCODINGS } from "./description.ts";
import { type FocasLibrary, openFocas, type Result } from "./binding.ts";
import { EW_NODLL, FocasError, isConnectionLost, isUnsupported } from "./codes.ts";
import { type FocasReading, toMetrics } from "./mapping.ts";
import type { SysInfo } from "./structs.ts";

/** Parameter holding the parts produced. */
export const PARAM_PARTS = 6711;
/** Parameter holding the parts produced in total. */
export const PARAM_PARTS_TOTAL = 6712;

const NODLL_HINT = "the library is the wrong one for this connection type: Ethernet needs the Ethernet " +
  "FOCAS2 library (libfwlib32.so; on Windows Fwlib64.dll with fwlibe64.dll beside it), not the HSSB one";

/** The options this driver reads, parsed. */
interface FocasOptions {
  readonly library: string;
  readonly encoding: string;
  readonly startupLogLevel: number;
}

function parseOptions(o: Readonly<Record<string, unknown>>): FocasOptions {
  if (typeof o.library !== "string" || o.library === "") {
    throw new Error("options.library: expected the path of FANUC's FOCAS2 library, got nothing");
  }
  const encoding = o.encoding ?? "latin1";
  if (typeof encoding !== "string" || !(ENCODINGS as readonly string[]).includes(encoding)) {
    throw new Error(`options.encoding: expected one of ${ENCODINGS.join(", ")}, got ${String(encoding)}`);
  }
  const level = o.startup_log_level ?? 0;
  if (!Number.isInteger(level) || (level as number) < 0 || (level as number) > 3) {
    throw new Error(`options.startup_log_level: expected an integer 0..3, got ${String(level)}`);
  }
  return { library: o.library, encoding, startupLogLevel: level as number };
}

/** Path of the FOCAS log file in a scratch folder, with the platform's separator. */
export function focasLogPath(workDir: string): string {
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  return workDir.endsWith(sep) ? `${workDir}focas.log` : `${workDir}${sep}focas.log`;
}

/** The result of a synchronous step as a promise: FOCAS calls are synchronous, the contract is not. */
function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The FOCAS2 driver. */
export class FocasDriver implements Driver {
  #lib: FocasLibrary | null = null;
  #handle: number | null = null;
  #host = "";
  #port = 8193;
  #timeoutS = 10;
  #decoder = new TextDecoder("latin1");
  #machineId = "";
  #pendingSys: SysInfo | null = null;
  #unsupported = new Set<string>();
  #started = false;

  /** Loads the library, starts the FOCAS process (Linux) and connects. */
  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void> {
    return settle(() => this.#init(options, ctx));
  }

  #init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): void {
    const o = parseOptions(options);
    if (ctx.host === null) throw new Error("focas: the machine needs a host (the control's IP address)");
    this.#host = ctx.host;
    this.#port = ctx.port ?? 8193;
    this.#timeoutS = Math.max(1, Math.ceil(ctx.timeoutMs / 1000));
    this.#machineId = ctx.machineId;
    this.#decoder = new TextDecoder(o.encoding);
    this.#lib = openFocas(o.library);
    if (this.#lib.has("cnc_startupprocess") && ctx.workDir !== null) {
      const rc = this.#lib.startupProcess(o.startupLogLevel, focasLogPath(ctx.workDir));
      if (rc !== 0) throw new FocasError("cnc_startupprocess", rc);
      this.#started = true;
    }
    this.#connect();
  }

  #connect(): number {
    const lib = this.#lib!;
    const r = lib.connect(this.#host, this.#port, this.#timeoutS);
    if (r.value === undefined) {
      throw new FocasError(
        "cnc_allclibhndl3",
        r.rc,
        r.rc === EW_NODLL ? NODLL_HINT : `connecting to ${this.#host}:${this.#port}`,
      );
    }
    const h = r.value;
    this.#handle = h;
    if (lib.has("cnc_settimeout")) lib.setTimeout(h, this.#timeoutS);
    const sys = this.#read("cnc_sysinfo", lib.sysInfo(h));
    if (sys) {
      console.log(
        `focas ${this.#machineId}: connected to ${this.#host}:${this.#port}: series ${sys.series.trim()} ` +
          `version ${sys.version.trim()}, ${sys.max_axis} axes max, ${sys.axes.trim()} axes`,
      );
      this.#pendingSys = sys;
    }
    return h;
  }

  /** A read's value; undefined (logged once) when the control lacks it; throws on any other failure. */
  #read<T>(fn: string, r: Result<T>): T | undefined {
    if (r.rc === 0) return r.value;
    if (isUnsupported(r.rc)) {
      if (!this.#unsupported.has(fn)) {
        this.#unsupported.add(fn);
        console.log(`focas ${this.#machineId}: ${new FocasError(fn, r.rc).message}; its metric is left out`);
      }
      return undefined;
    }
    if (isConnectionLost(r.rc)) this.#dropHandle();
    throw new FocasError(fn, r.rc, r.rc === -1 ? "the control is busy; retried at the next poll" : "");
  }

  #dropHandle(): void {
    const h = this.#handle;
    this.#handle = null;
    if (h !== null) this.#lib?.free(h);
  }

  /** Reads the control once: state, speeds, program, part counts, alarms and (when present) spindle load. */
  poll(): Promise<Metrics> {
    return settle(() => this.#poll());
  }

  #poll(): Metrics {
    const lib = this.#lib;
    if (!lib) throw new Error("focas: poll before init");
    const h = this.#handle ?? this.#connect();
    const reading: FocasReading = {
      stat: this.#read("cnc_statinfo", lib.statInfo(h)),
      speed: this.#read("cnc_rdspeed", lib.speed(h)),
      program: this.#read("cnc_exeprgname", lib.execProgram(h)),
      partCount: this.#read("cnc_rdparam(6711)", lib.longParam(h, PARAM_PARTS)),
      partCountTotal: this.#read("cnc_rdparam(6712)", lib.longParam(h, PARAM_PARTS_TOTAL)),
      alarms: this.#read("cnc_rdalmmsg2", lib.alarms(h)),
      spindleLoads: lib.has("cnc_rdspmeter") ? this.#read("cnc_rdspmeter", lib.spindleLoads(h)) : undefined,
      sys: this.#pendingSys ?? undefined,
    };
    this.#pendingSys = null;
    return toMetrics(reading, this.#decoder);
  }

  /** Frees the handle, ends the FOCAS process (Linux) and unloads the library. */
  close(): Promise<void> {
    this.#dropHandle();
    if (this.#started) this.#lib?.exitProcess();
    this.#started = false;
    this.#lib?.close();
    this.#lib = null;
    return Promise.resolve();
  }
}

/** Entry point of the driver's module, called inside the machine's sandboxed Web Worker. */
export function createDriver(): Driver {
  return new FocasDriver();
}
