/**
 * MTConnect observations to readings in the shared metrics vocabulary (drivers/README.md). Pure: no I/O, no
 * clock (timestamps come in with the observations; fallbacks are passed in).
 *
 * State: the latest value of every data item and the active conditions of each condition data item
 * ({@link MachineState}, serialisable so it travels in the driver's resume cursor). Metrics are computed from
 * the state by {@link metricsOf}:
 * - `Availability` -> `availability`; `Execution` -> `execution`; `ControllerMode` -> `controller_mode`;
 *   `EmergencyStop` -> `emergency_stop`; `Program` -> `program`; `PartCount` (no subType or ALL) ->
 *   `part_count` (integer); `ToolNumber` -> `tool_number` (integer, an extra);
 * - `SpindleSpeed` / `RotaryVelocity`: subType ACTUAL or none -> `spindle_speed`; subType OVERRIDE or units
 *   PERCENT, and `RotaryVelocityOverride` -> `spindle_override`;
 * - `PathFeedrate`: subType ACTUAL or none -> `path_feedrate` in mm/s (converted from the data item's units,
 *   MILLIMETER/SECOND when none); units PERCENT or subType OVERRIDE, and `PathFeedrateOverride` (no subType or
 *   PROGRAMMED) -> `feed_override`;
 * - `Load` of a spindle (a `Rotary` or `Spindle` component, or a component named or natively named like a
 *   spindle: `spindle`, `S`, `S1`...) -> `spindle_load`;
 * - each active `Warning` / `Fault` -> `alarms` entry `{code: nativeCode or the condition type, severity,
 *   message}`; `Normal` clears that nativeCode (or, without one, every condition of that data item) and
 *   `Unavailable` clears the data item; `alarms` is present (maybe empty) once any condition item is known.
 * - An `UNAVAILABLE` value leaves its key out, except `availability`. Several items mapping to one key (two
 *   paths, two spindles): the first data item in document order (of /probe, else of the first stream seen)
 *   that has a value wins, whichever changed last.
 *
 * Readings ({@link readingsOf}): one per distinct timestamp at which an EVENT or CONDITION observation changed
 * the metrics, carrying the whole state at that moment (SAMPLE values at their latest value by then), plus one
 * for the state at the last observation's time when that differs from the last reading.
 */
import type { Metrics, MetricValue } from "../../src/record/mod.ts";
import type { Category, DataItem, Observation } from "./parse.ts";

/** An active condition of one data item. */
export interface ActiveCondition {
  readonly code: string;
  readonly severity: "WARNING" | "FAULT";
  readonly message: string;
  /** The nativeCode it was raised with, or null. */
  readonly native: string | null;
}

/** How a data item maps into the vocabulary: the key it feeds and how its value converts. */
export interface ItemRule {
  readonly key: string;
  readonly convert: (v: string) => MetricValue | undefined;
}

/** A data item as the mapping needs it (from /probe, or guessed from an observation when there is no probe). */
export type ItemInfo = Pick<
  DataItem,
  "id" | "category" | "type" | "subType" | "units" | "component" | "componentName" | "componentNativeName"
>;

const num = (v: string): number | undefined => {
  if (v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};
const int = (v: string): number | undefined => {
  const n = num(v);
  return n === undefined ? undefined : Number.isSafeInteger(n) ? n : Math.round(n);
};
const asText = (v: string): string => v;
const upper = (v: string): string => v.trim().toUpperCase();

/** mm/s per one unit of a feedrate unit. */
const FEED_UNITS: Record<string, number> = {
  "MILLIMETER/SECOND": 1,
  "MILLIMETER/MINUTE": 1 / 60,
  "METER/SECOND": 1000,
  "METER/MINUTE": 1000 / 60,
  "INCH/SECOND": 25.4,
  "INCH/MINUTE": 25.4 / 60,
  "FOOT/MINUTE": 304.8 / 60,
};

const round = (n: number) => Math.round(n * 1e6) / 1e6;
const SPINDLE_NAME = /spindle|^s\d*$/i;

/** The vocabulary rule of one data item, or null when it maps to nothing. */
export function ruleFor(item: ItemInfo): ItemRule | null {
  const sub = item.subType;
  const pct = item.units === "PERCENT";
  switch (item.type) {
    case "AVAILABILITY":
      return { key: "availability", convert: upper };
    case "EXECUTION":
      return { key: "execution", convert: upper };
    case "CONTROLLER_MODE":
      return { key: "controller_mode", convert: upper };
    case "EMERGENCY_STOP":
      return { key: "emergency_stop", convert: upper };
    case "PROGRAM":
      return sub === null || sub === "MAIN" ? { key: "program", convert: asText } : null;
    case "PART_COUNT":
      return sub === null || sub === "ALL" ? { key: "part_count", convert: int } : null;
    case "TOOL_NUMBER":
      return { key: "tool_number", convert: int };
    case "SPINDLE_SPEED":
    case "ROTARY_VELOCITY":
      if (sub === "OVERRIDE" || pct) return { key: "spindle_override", convert: num };
      return sub === null || sub === "ACTUAL" ? { key: "spindle_speed", convert: num } : null;
    case "ROTARY_VELOCITY_OVERRIDE":
      return sub === null || sub === "PROGRAMMED" ? { key: "spindle_override", convert: num } : null;
    case "PATH_FEEDRATE": {
      if (sub === "OVERRIDE" || pct) return { key: "feed_override", convert: num };
      if (sub !== null && sub !== "ACTUAL") return null;
      const factor = FEED_UNITS[item.units ?? "MILLIMETER/SECOND"];
      if (factor === undefined) return null; // unknown units: better absent than wrong
      return {
        key: "path_feedrate",
        convert: (v) => {
          const n = num(v);
          return n === undefined ? undefined : round(n * factor);
        },
      };
    }
    case "PATH_FEEDRATE_OVERRIDE":
      return sub === null || sub === "PROGRAMMED" ? { key: "feed_override", convert: num } : null;
    case "LOAD": {
      const spindle = item.component === "Rotary" || item.component === "Spindle" ||
        SPINDLE_NAME.test(item.componentName ?? "") || SPINDLE_NAME.test(item.componentNativeName ?? "");
      return spindle ? { key: "spindle_load", convert: num } : null;
    }
    default:
      return null;
  }
}

/** What a data item is, guessed from one of its observations (when no /probe describes it). */
export function infoFromObservation(o: Observation): ItemInfo {
  return {
    id: o.dataItemId,
    category: o.category,
    type: o.type,
    subType: o.subType,
    units: null,
    component: o.component ?? "",
    componentName: o.componentName,
    componentNativeName: null,
  };
}

/** The data items of one device, in document order, with their rules. */
export class Catalog {
  readonly #items = new Map<string, { info: ItemInfo; rule: ItemRule | null; order: number }>();

  /** @param items the device's data items from /probe, in document order (may be empty) */
  constructor(items: readonly ItemInfo[] = []) {
    for (const it of items) this.#add(it);
  }

  #add(info: ItemInfo) {
    const e = { info, rule: info.category === "CONDITION" ? null : ruleFor(info), order: this.#items.size };
    this.#items.set(info.id, e);
    return e;
  }

  /** The entry of a data item; an unknown one is learnt from its observation (ordered after the known ones). */
  entry(o: Observation): { info: ItemInfo; rule: ItemRule | null; order: number } {
    return this.#items.get(o.dataItemId) ?? this.#add(infoFromObservation(o));
  }

  /** Entries in document order. */
  ordered(): { info: ItemInfo; rule: ItemRule | null; order: number }[] {
    return [...this.#items.values()];
  }

  /** A known data item's category, or null. */
  category(id: string): Category | null {
    return this.#items.get(id)?.info.category ?? null;
  }
}

/** Serialised form of a {@link MachineState} (it travels in the cursor). */
export interface StateJson {
  /** Latest value per data item id. */
  readonly v: Record<string, string>;
  /** Active conditions per data item id: [code, severity, message, native]. */
  readonly c: Record<string, [string, "WARNING" | "FAULT", string, string | null][]>;
}

/** Latest values and active conditions of one device. */
export class MachineState {
  readonly values = new Map<string, string>();
  readonly conditions = new Map<string, ActiveCondition[]>();

  /** Applies one observation. */
  apply(o: Observation): void {
    if (o.category !== "CONDITION") {
      this.values.set(o.dataItemId, o.value);
      return;
    }
    const active = this.conditions.get(o.dataItemId) ?? [];
    const native = o.nativeCode ?? null;
    if (o.level === "NORMAL" || o.level === "UNAVAILABLE") {
      this.conditions.set(
        o.dataItemId,
        o.level === "NORMAL" && native !== null ? active.filter((c) => c.native !== native) : [],
      );
      return;
    }
    const cond: ActiveCondition = {
      code: native ?? o.type,
      severity: o.level === "FAULT" ? "FAULT" : "WARNING",
      message: o.value,
      native,
    };
    // Without a nativeCode a condition item has one state: the new one replaces it.
    const rest = native === null ? [] : active.filter((c) => c.native !== native);
    this.conditions.set(o.dataItemId, [...rest, cond]);
  }

  /** The state as JSON (for the cursor). */
  toJSON(): StateJson {
    const c: StateJson["c"] = {};
    for (const [id, list] of this.conditions) {
      c[id] = list.map((x) => [x.code, x.severity, x.message, x.native]);
    }
    return { v: Object.fromEntries(this.values), c };
  }

  /** Rebuilds a state from {@link toJSON}'s output; null when the value has another shape. */
  static fromJSON(j: unknown): MachineState | null {
    if (typeof j !== "object" || j === null) return null;
    const { v, c } = j as Partial<StateJson>;
    if (typeof v !== "object" || v === null || typeof c !== "object" || c === null) return null;
    const s = new MachineState();
    for (const [k, x] of Object.entries(v)) if (typeof x === "string") s.values.set(k, x);
    for (const [k, list] of Object.entries(c)) {
      if (!Array.isArray(list)) return null;
      s.conditions.set(
        k,
        list.map(([code, severity, message, native]) => ({
          code,
          severity,
          message,
          native: native ?? null,
        })),
      );
    }
    return s;
  }
}

/** The metrics of a state (the rules in the module comment). */
export function metricsOf(catalog: Catalog, state: MachineState): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  const alarms: { code: string; severity: string; message: string }[] = [];
  let conditionsKnown = false;
  for (const { info, rule } of catalog.ordered()) {
    if (info.category === "CONDITION") {
      const list = state.conditions.get(info.id);
      if (list === undefined) continue;
      conditionsKnown = true;
      for (const c of list) alarms.push({ code: c.code, severity: c.severity, message: c.message });
      continue;
    }
    if (!rule || rule.key in out) continue;
    const raw = state.values.get(info.id);
    if (raw === undefined) continue;
    if (raw === "UNAVAILABLE") {
      if (rule.key === "availability") out.availability = "UNAVAILABLE";
      continue;
    }
    const v = rule.convert(raw);
    if (v !== undefined) out[rule.key] = v;
  }
  if (conditionsKnown) out.alarms = alarms;
  return out;
}

/** One reading: a source timestamp and the metrics at that moment. */
export interface Reading {
  readonly ts: number;
  readonly metrics: Metrics;
  /** Sequence of the last observation it includes (where a cursor after it resumes). */
  readonly lastSequence: number;
}

const same = (a: Metrics | null, b: Metrics): boolean =>
  a !== null && JSON.stringify(a) === JSON.stringify(b);

/**
 * Applies `observations` (any order: they are applied in sequence order) to `state` and returns the readings
 * (see the module comment). An observation without a usable timestamp takes `fallbackTs`. `previous` is the
 * metrics last delivered (a change is judged against it); `maxReadings` caps the result: observations after
 * the cap are not applied, and the result says where to resume (`nextSequence`, null when all were applied).
 */
export function readingsOf(
  catalog: Catalog,
  state: MachineState,
  observations: readonly Observation[],
  opts: { previous: Metrics | null; fallbackTs: number; maxReadings: number },
): { readings: Reading[]; resumeAt: number | null } {
  const obs = [...observations].sort((a, b) => a.sequence - b.sequence);
  const readings: Reading[] = [];
  let last = opts.previous;
  let i = 0;
  let pendingSample: { ts: number; seq: number } | null = null;
  while (i < obs.length) {
    // One reading is kept in reserve for the end state, so a cut always falls between two timestamps.
    if (readings.length >= opts.maxReadings - 1) {
      const end = endReading(catalog, state, last, pendingSample);
      if (end) readings.push(end);
      return { readings, resumeAt: obs[i].sequence };
    }
    const ts = obs[i].timestamp ?? opts.fallbackTs;
    let j = i;
    let eventful = false;
    while (j < obs.length && (obs[j].timestamp ?? opts.fallbackTs) === ts) {
      const o = obs[j];
      catalog.entry(o);
      state.apply(o);
      if (o.category !== "SAMPLE") eventful = true;
      j++;
    }
    const seq = obs[j - 1].sequence;
    if (eventful) {
      const m = metricsOf(catalog, state);
      if (!same(last, m)) {
        readings.push({ ts, metrics: m, lastSequence: seq });
        last = m;
        pendingSample = null;
        i = j;
        continue;
      }
    }
    pendingSample = { ts, seq };
    i = j;
  }
  const end = endReading(catalog, state, last, pendingSample);
  if (end) readings.push(end);
  return { readings, resumeAt: null };
}

function endReading(
  catalog: Catalog,
  state: MachineState,
  last: Metrics | null,
  pendingSample: { ts: number; seq: number } | null,
): Reading | null {
  if (!pendingSample) return null;
  const m = metricsOf(catalog, state);
  return same(last, m) ? null : { ts: pendingSample.ts, metrics: m, lastSequence: pendingSample.seq };
}
