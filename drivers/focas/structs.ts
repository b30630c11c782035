/**
 * Pure decoders of the FOCAS2 structures this driver reads, from the bytes the library filled in. Layouts are
 * fwlib32.h's with C `long` as 4 bytes (true of every FOCAS2 build, x64 Linux included: reading it as 8 bytes
 * gives garbage such as a spindle speed of 93962030282464), little-endian, no padding beyond what is listed.
 * Buffer sizes are exported so the binding allocates exactly what the library writes.
 */

/** Size of ODBSYS. */
export const ODBSYS_SIZE = 18;
/** Size of ODBST. */
export const ODBST_SIZE = 18;
/** Size of ODBSPEED (two SPEEDELM). */
export const ODBSPEED_SIZE = 24;
/** Size of ODBEXEPRG. */
export const ODBEXEPRG_SIZE = 40;
/** Size of IODBPSD for one 4-byte parameter (the `length` argument of cnc_rdparam). */
export const IODBPSD_LONG_SIZE = 8;
/** Size of one ODBALMMSG2 entry. */
export const ODBALMMSG2_SIZE = 76;
/** Size of one ODBSPLOAD entry (one spindle). */
export const ODBSPLOAD_SIZE = 24;

/** ODBSYS: what the control is. */
export interface SysInfo {
  readonly addinfo: number;
  readonly max_axis: number;
  readonly cnc_type: string;
  readonly mt_type: string;
  readonly series: string;
  readonly version: string;
  readonly axes: string;
}

/** ODBST: the control's state flags. */
export interface StatInfo {
  readonly hdck: number;
  readonly tmmode: number;
  readonly aut: number;
  readonly run: number;
  readonly motion: number;
  readonly mstb: number;
  readonly emergency: number;
  readonly alarm: number;
  readonly edit: number;
}

/** One SPEEDELM of ODBSPEED. */
export interface SpeedElement {
  readonly data: number;
  readonly dec: number;
  /** 0 mm/min, 1 inch/min, 2 rev/min. */
  readonly unit: number;
  readonly disp: number;
  readonly name: string;
  readonly suff: string;
}

/** ODBSPEED: actual feed rate and actual spindle speed. */
export interface Speed {
  readonly actf: SpeedElement;
  readonly acts: SpeedElement;
}

/** ODBEXEPRG: the program being executed. */
export interface ExecProgram {
  readonly name: string;
  readonly o_num: number;
}

/** IODBPSD for a 4-byte parameter. */
export interface LongParam {
  readonly datano: number;
  readonly type: number;
  readonly ldata: number;
}

/** One ODBALMMSG2 entry; `message` holds the raw `msg_len` bytes (decoded by the mapping). */
export interface AlarmMessage {
  readonly alm_no: number;
  readonly type: number;
  readonly axis: number;
  readonly msg_len: number;
  readonly message: Uint8Array;
}

/** One LOADELM of ODBSPLOAD. */
export interface LoadElement {
  readonly data: number;
  readonly dec: number;
  readonly unit: number;
  readonly name: string;
  readonly suff1: string;
  readonly suff2: string;
}

/** ODBSPLOAD for one spindle: load (%) and speed. */
export interface SpindleLoad {
  readonly spload: LoadElement;
  readonly spspeed: LoadElement;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function need(b: Uint8Array, size: number, what: string): DataView {
  if (b.byteLength < size) throw new RangeError(`${what}: expected ${size} bytes, got ${b.byteLength}`);
  return view(b);
}

/** ASCII characters of a fixed-width field, up to the first NUL; other bytes become U+FFFD. */
export function asciiField(b: Uint8Array, offset: number, length: number): string {
  let s = "";
  for (let i = offset; i < offset + length && i < b.length; i++) {
    const c = b[i];
    if (c === 0) break;
    s += c < 0x80 ? String.fromCharCode(c) : "\ufffd";
  }
  return s;
}

const char = (b: Uint8Array, offset: number) => asciiField(b, offset, 1);

/** Decodes ODBSYS (18 bytes). */
export function decodeSysInfo(b: Uint8Array): SysInfo {
  const v = need(b, ODBSYS_SIZE, "ODBSYS");
  return {
    addinfo: v.getInt16(0, true),
    max_axis: v.getInt16(2, true),
    cnc_type: asciiField(b, 4, 2),
    mt_type: asciiField(b, 6, 2),
    series: asciiField(b, 8, 4),
    version: asciiField(b, 12, 4),
    axes: asciiField(b, 16, 2),
  };
}

/** Decodes ODBST (18 bytes). */
export function decodeStatInfo(b: Uint8Array): StatInfo {
  const v = need(b, ODBST_SIZE, "ODBST");
  const i = (o: number) => v.getInt16(o, true);
  return {
    hdck: i(0),
    tmmode: i(2),
    aut: i(4),
    run: i(6),
    motion: i(8),
    mstb: i(10),
    emergency: i(12),
    alarm: i(14),
    edit: i(16),
  };
}

function speedElement(b: Uint8Array, v: DataView, o: number): SpeedElement {
  return {
    data: v.getInt32(o, true),
    dec: v.getInt16(o + 4, true),
    unit: v.getInt16(o + 6, true),
    disp: v.getInt16(o + 8, true),
    name: char(b, o + 10),
    suff: char(b, o + 11),
  };
}

/** Decodes ODBSPEED (24 bytes). */
export function decodeSpeed(b: Uint8Array): Speed {
  const v = need(b, ODBSPEED_SIZE, "ODBSPEED");
  return { actf: speedElement(b, v, 0), acts: speedElement(b, v, 12) };
}

/** Decodes ODBEXEPRG (40 bytes). */
export function decodeExecProgram(b: Uint8Array): ExecProgram {
  const v = need(b, ODBEXEPRG_SIZE, "ODBEXEPRG");
  return { name: asciiField(b, 0, 36), o_num: v.getInt32(36, true) };
}

/** Decodes IODBPSD holding one 4-byte parameter (8 bytes). */
export function decodeLongParam(b: Uint8Array): LongParam {
  const v = need(b, IODBPSD_LONG_SIZE, "IODBPSD");
  return { datano: v.getInt16(0, true), type: v.getInt16(2, true), ldata: v.getInt32(4, true) };
}

/** Decodes the first `count` ODBALMMSG2 entries (76 bytes each); `msg_len` is clamped to the 64-byte field. */
export function decodeAlarmMessages(b: Uint8Array, count: number): AlarmMessage[] {
  const v = need(b, ODBALMMSG2_SIZE * count, "ODBALMMSG2");
  const out: AlarmMessage[] = [];
  for (let k = 0; k < count; k++) {
    const o = k * ODBALMMSG2_SIZE;
    const msgLen = v.getInt16(o + 10, true);
    const len = Math.max(0, Math.min(64, msgLen));
    out.push({
      alm_no: v.getInt32(o, true),
      type: v.getInt16(o + 4, true),
      axis: v.getInt16(o + 6, true),
      msg_len: msgLen,
      message: b.slice(o + 12, o + 12 + len),
    });
  }
  return out;
}

function loadElement(b: Uint8Array, v: DataView, o: number): LoadElement {
  return {
    data: v.getInt32(o, true),
    dec: v.getInt16(o + 4, true),
    unit: v.getInt16(o + 6, true),
    name: char(b, o + 8),
    suff1: char(b, o + 9),
    suff2: char(b, o + 10),
  };
}

/** Decodes the first `count` ODBSPLOAD entries (24 bytes each). */
export function decodeSpindleLoads(b: Uint8Array, count: number): SpindleLoad[] {
  const v = need(b, ODBSPLOAD_SIZE * count, "ODBSPLOAD");
  const out: SpindleLoad[] = [];
  for (let k = 0; k < count; k++) {
    const o = k * ODBSPLOAD_SIZE;
    out.push({ spload: loadElement(b, v, o), spspeed: loadElement(b, v, o + 12) });
  }
  return out;
}
