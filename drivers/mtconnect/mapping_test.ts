import { assertEquals } from "../../tests/assert.ts";
import { Catalog, type ItemInfo, MachineState, metricsOf, readingsOf, ruleFor } from "./mapping.ts";
import { type Observation, parseDocument } from "./parse.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../../tests/fixtures/mtconnect/${name}`, import.meta.url));

function mapCurrent(xml: string, items: ItemInfo[] = []) {
  const doc = parseDocument(xml);
  if (doc.kind !== "streams") throw new Error(doc.kind);
  const catalog = new Catalog(items);
  const state = new MachineState();
  for (const o of [...doc.observations].sort((a, b) => a.sequence - b.sequence)) {
    catalog.entry(o);
    state.apply(o);
  }
  return metricsOf(catalog, state);
}

Deno.test("mapping: cppagent_test_current_1.0.xml maps to exactly the vocabulary", () => {
  assertEquals(mapCurrent(fixture("cppagent_test_current_1.0.xml")), {
    spindle_override: 100,
    spindle_speed: 0,
    execution: "READY",
    controller_mode: "AUTOMATIC",
    program: "/home/mtconnect/simulator/spiral.ngc",
    feed_override: 100,
    path_feedrate: 0,
  });
});

Deno.test("mapping: cppagent_SimpleStream_1.4.xml: program, part count, mode, the Warning and the Fault", () => {
  assertEquals(mapCurrent(fixture("cppagent_SimpleStream_1.4.xml")), {
    program: "O98877",
    part_count: 662,
    controller_mode: "AUTOMATIC",
    alarms: [
      { code: "MOT-WARN", severity: "WARNING", message: "Spindle Motor Warning" },
      { code: "MOT-OVR", severity: "FAULT", message: "Spindle Motor Overload" },
    ],
  });
});

/** Observations for the FANUC probe's data items: [id, seq, ts, value, level?, nativeCode?]. */
function fanucObs(rows: [string, number, number | null, string, string?, string?][]): Observation[] {
  const doc = parseDocument(fixture("cppagent_fanuc_probe_1.1.xml"));
  if (doc.kind !== "devices") throw new Error(doc.kind);
  const items = new Map(doc.devices[0].dataItems.map((d) => [d.id, d]));
  return rows.map(([id, sequence, timestamp, value, level, nativeCode]) => {
    const it = items.get(id)!;
    return {
      dataItemId: id,
      sequence,
      timestamp,
      category: it.category,
      type: it.type,
      subType: it.subType,
      value,
      component: it.component,
      componentName: it.componentName,
      device: "Fanuc-4Axis",
      deviceUuid: "000",
      ...(level ? { level: level as Observation["level"], nativeCode: nativeCode ?? null } : {}),
    };
  });
}

function fanucCatalog(): Catalog {
  const doc = parseDocument(fixture("cppagent_fanuc_probe_1.1.xml"));
  if (doc.kind !== "devices") throw new Error(doc.kind);
  return new Catalog(doc.devices[0].dataItems);
}

Deno.test("mapping: FANUC probe: first spindle in document order, PERCENT feedrate is the override, alarms", () => {
  const catalog = fanucCatalog();
  const state = new MachineState();
  for (
    const o of fanucObs([
      ["a3", 1, 1, "55"], // Load of rotary axis A: after spindle C in document order
      ["c4", 2, 1, "12.5"],
      ["c2", 3, 1, "1200"],
      ["c3", 4, 1, "110"],
      ["path_feedrate", 5, 1, "25"],
      ["Fovr", 6, 1, "90"],
      ["avail", 7, 1, "AVAILABLE"],
      ["estop", 8, 1, "ARMED"],
      ["cn6", 9, 1, "ACTIVE"],
      ["cn3", 10, 1, "UNAVAILABLE"],
      ["Xservo", 11, 1, "Drive fault", "FAULT", "SV0401"],
      ["logic", 12, 1, "Low oil", "WARNING", "OIL"],
      ["system", 13, 1, "", "NORMAL"],
    ])
  ) state.apply(o);
  assertEquals(metricsOf(catalog, state), {
    availability: "AVAILABLE",
    spindle_speed: 1200,
    spindle_load: 12.5,
    spindle_override: 110,
    emergency_stop: "ARMED",
    execution: "ACTIVE",
    path_feedrate: 25,
    feed_override: 90,
    alarms: [
      { code: "SV0401", severity: "FAULT", message: "Drive fault" },
      { code: "OIL", severity: "WARNING", message: "Low oil" },
    ],
  });
  // Normal with the nativeCode clears that alarm; UNAVAILABLE availability is kept, other keys are left out.
  for (const o of fanucObs([["Xservo", 14, 2, "", "NORMAL", "SV0401"], ["avail", 15, 2, "UNAVAILABLE"]])) {
    state.apply(o);
  }
  const m = metricsOf(catalog, state);
  assertEquals([m.availability, m.alarms], ["UNAVAILABLE", [{
    code: "OIL",
    severity: "WARNING",
    message: "Low oil",
  }]]);
  // The state survives its JSON form (it travels in the cursor).
  assertEquals(metricsOf(catalog, MachineState.fromJSON(JSON.parse(JSON.stringify(state.toJSON())))!), m);
});

Deno.test("mapping: feedrate units are converted to mm/s; unknown units leave the key out", () => {
  const item = (units: string | null): ItemInfo => ({
    id: "f",
    category: "SAMPLE",
    type: "PATH_FEEDRATE",
    subType: "ACTUAL",
    units,
    component: "Path",
    componentName: null,
    componentNativeName: null,
  });
  const conv = (units: string | null, v: string) => ruleFor(item(units))?.convert(v);
  assertEquals(conv("MILLIMETER/SECOND", "12.5"), 12.5);
  assertEquals(conv(null, "3"), 3);
  assertEquals(conv("MILLIMETER/MINUTE", "600"), 10);
  assertEquals(conv("INCH/MINUTE", "60"), 25.4);
  assertEquals(ruleFor(item("FURLONG/FORTNIGHT")), null);
  assertEquals(ruleFor(item("PERCENT"))?.key, "feed_override");
  assertEquals(conv("MILLIMETER/SECOND", "UNAVAILABLE"), undefined);
});

Deno.test("readings: a 200 ms FEED_HOLD between samples is its own reading; samples take their latest value", () => {
  const t = 1_700_000_000_000;
  const catalog = fanucCatalog();
  const state = new MachineState();
  const r = readingsOf(
    catalog,
    state,
    fanucObs([
      ["cn6", 10, t, "ACTIVE"],
      ["c2", 11, t + 100, "1000"],
      ["cn6", 12, t + 300, "FEED_HOLD"],
      ["c2", 13, t + 400, "0"],
      ["cn6", 14, t + 500, "ACTIVE"],
      ["c2", 15, t + 700, "1100"],
      ["cn4", 16, t + 800, "42"], // LINE: an event this driver does not map: no reading
    ]),
    { previous: null, fallbackTs: 0, maxReadings: 1000 },
  );
  assertEquals(r.resumeAt, null);
  assertEquals(r.readings.map((x) => [x.ts - t, x.metrics.execution, x.metrics.spindle_speed ?? null]), [
    [0, "ACTIVE", null],
    [300, "FEED_HOLD", 1000],
    [500, "ACTIVE", 0],
    [800, "ACTIVE", 1100],
  ]);
  // Same again: nothing changed, no reading.
  const again = readingsOf(catalog, state, fanucObs([["cn6", 17, t + 900, "ACTIVE"]]), {
    previous: r.readings.at(-1)!.metrics,
    fallbackTs: 0,
    maxReadings: 1000,
  });
  assertEquals(again.readings, []);
});

Deno.test("readings: the cap cuts between timestamps and says where to resume; no timestamp takes the fallback", () => {
  const catalog = fanucCatalog();
  const state = new MachineState();
  const rows: [string, number, number | null, string][] = [];
  for (let i = 0; i < 10; i++) rows.push(["cn5", 100 + i, 1000 + i, `O${i}`]);
  rows.push(["cn6", 200, null, "READY"]);
  const r = readingsOf(catalog, state, fanucObs(rows), { previous: null, fallbackTs: 5, maxReadings: 4 });
  assertEquals(r.readings.map((x) => [x.ts, x.metrics.program]), [[1000, "O0"], [1001, "O1"], [1002, "O2"]]);
  assertEquals(r.resumeAt, 103);
  const rest = readingsOf(catalog, state, fanucObs(rows).filter((o) => o.sequence >= 103), {
    previous: r.readings.at(-1)!.metrics,
    fallbackTs: 5,
    maxReadings: 1000,
  });
  assertEquals(rest.readings.length, 8);
  assertEquals(rest.readings.at(-1), {
    ts: 5,
    metrics: { program: "O9", execution: "READY" },
    lastSequence: 200,
  });
});
