/**
 * Pure mapping from decoded FOCAS2 structures (structs.ts) to the shared metrics vocabulary (drivers/README.md),
 * for the 0i/16i/18i/21i/30i series. A reading the control could not give (EW_FUNC, EW_NOOPT) is absent from
 * the input and its metric is left out: the driver reports only what it knows.
 */
import type { Metrics, MetricValue } from "../../src/record/mod.ts";
import type { AlarmMessage, ExecProgram, Speed, SpindleLoad, StatInfo, SysInfo } from "./structs.ts";

/** What one poll read; each part is absent when the control lacks it. */
export interface FocasReading {
  readonly stat?: StatInfo;
  readonly speed?: Speed;
  readonly program?: ExecProgram;
  /** Parameter 6711: parts produced. */
  readonly partCount?: number;
  /** Parameter 6712: parts produced in total. */
  readonly partCountTotal?: number;
  readonly alarms?: readonly AlarmMessage[];
  readonly spindleLoads?: readonly SpindleLoad[];
  /** Set on the first reading of a connection only. */
  readonly sys?: SysInfo;
}

/** `execution` from ODBST: run 3/4 ACTIVE, 2 FEED_HOLD, else motion 2 or mstb != 0 INTERRUPTED, 0 STOPPED, 1 READY. */
export function execution(s: StatInfo): string | undefined {
  if (s.run === 3 || s.run === 4) return "ACTIVE";
  if (s.run === 2) return "FEED_HOLD";
  if (s.motion === 2 || s.mstb !== 0) return "INTERRUPTED";
  if (s.run === 0) return "STOPPED";
  if (s.run === 1) return "READY";
  return undefined;
}

/** `controller_mode` from ODBST.aut; undefined for modes outside the vocabulary. */
export function controllerMode(aut: number): string | undefined {
  if (aut === 1 || aut === 10) return "AUTOMATIC"; // MEM, RMT
  if (aut === 0) return "MANUAL_DATA_INPUT"; // MDI
  if (aut === 3) return "EDIT";
  if (aut >= 4 && aut <= 9) return "MANUAL"; // HND, JOG, TJOG, THND, INC, REF
  return undefined;
}

/** Alarm type prefixes of the 0i/30i series; other types read `T<type>`. */
export const ALARM_PREFIXES: Readonly<Record<number, string>> = Object.freeze({
  0: "SW",
  1: "PW",
  2: "IO",
  3: "PS",
  4: "OT",
  5: "OH",
  6: "SV",
  7: "SR",
  8: "MC",
  9: "SP",
  10: "DS",
  11: "IE",
  12: "BG",
  13: "SN",
  15: "EX",
  19: "PC",
});

/** `SV0401`: the type's prefix and the number as at least 4 digits. */
export function alarmCode(type: number, almNo: number): string {
  return `${ALARM_PREFIXES[type] ?? `T${type}`}${String(almNo).padStart(4, "0")}`;
}

/** `data / 10^dec`, rounded to 6 decimals so that binary noise stays out of the record. */
export function scaled(data: number, dec: number): number {
  return round6(data / 10 ** Math.max(0, dec));
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** `path_feedrate` in mm/s from a SPEEDELM (unit 0 mm/min, 1 inch/min); undefined for other units. */
export function feedrateMmPerS(data: number, dec: number, unit: number): number | undefined {
  const perMin = data / 10 ** Math.max(0, dec);
  if (unit === 0) return round6(perMin / 60);
  if (unit === 1) return round6(perMin * 25.4 / 60);
  return undefined;
}

function sysMetric(s: SysInfo): MetricValue {
  const axes = /^\s*\d+\s*$/.test(s.axes) ? Number(s.axes) : s.axes.trim();
  return { series: s.series.trim(), version: s.version.trim(), max_axis: s.max_axis, axes };
}

/** Maps one reading; `decoder` decodes alarm text (options.encoding). */
export function toMetrics(r: FocasReading, decoder: TextDecoder): Metrics {
  const m: Record<string, MetricValue> = {};
  if (r.stat) {
    const ex = execution(r.stat);
    if (ex) m.execution = ex;
    const mode = controllerMode(r.stat.aut);
    if (mode) m.controller_mode = mode;
    m.emergency_stop = r.stat.emergency === 1 ? "TRIGGERED" : "ARMED";
  }
  if (r.speed) {
    m.spindle_speed = scaled(r.speed.acts.data, r.speed.acts.dec);
    const f = feedrateMmPerS(r.speed.actf.data, r.speed.actf.dec, r.speed.actf.unit);
    if (f !== undefined) m.path_feedrate = f;
  }
  if (r.program) m.program = r.program.name;
  if (r.partCount !== undefined) m.part_count = r.partCount;
  if (r.partCountTotal !== undefined) m.part_count_total = r.partCountTotal;
  if (r.spindleLoads && r.spindleLoads.length > 0) {
    const l = r.spindleLoads[0].spload;
    m.spindle_load = scaled(l.data, l.dec);
  }
  if (r.alarms) {
    m.alarms = r.alarms.filter((a) => a.alm_no >= 0).map((a) => ({
      code: alarmCode(a.type, a.alm_no),
      severity: "FAULT",
      message: decoder.decode(a.message).replace(/\0+$/, "").trim(),
    }));
  }
  if (r.sys) m.cnc = sysMetric(r.sys);
  return m;
}
