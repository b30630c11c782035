import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { elementType, MTConnectDocumentError, parseDocument, parseTimestamp } from "./parse.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../../tests/fixtures/mtconnect/${name}`, import.meta.url));

Deno.test("parse: /probe 1.1 (FANUC): the device and its data items in document order, with components", () => {
  const doc = parseDocument(fixture("cppagent_fanuc_probe_1.1.xml"));
  assert(doc.kind === "devices");
  assertEquals(doc.header.instanceId, "1267728234");
  assertEquals(doc.header.creationTime, Date.UTC(2010, 2, 4, 18, 44, 40));
  assertEquals(doc.devices.map((d) => [d.name, d.uuid]), [["Fanuc-4Axis", "000"]]);
  const items = doc.devices[0].dataItems;
  assertEquals(items.length, 48);
  assertEquals(items[0], {
    id: "avail",
    name: null,
    category: "EVENT",
    type: "AVAILABILITY",
    subType: null,
    units: null,
    component: "Device",
    componentName: "Fanuc-4Axis",
    componentNativeName: null,
  });
  const c4 = items.find((i) => i.id === "c4")!;
  assertEquals([c4.type, c4.subType, c4.units, c4.component, c4.componentName, c4.componentNativeName], [
    "LOAD",
    "ACTUAL",
    "PERCENT",
    "Rotary",
    "C",
    "S1",
  ]);
  assertEquals(items.find((i) => i.id === "Fovr")?.units, "PERCENT");
});

Deno.test("parse: /current 1.0 (urn:mtconnect.com, TIME timestamps, empty header attributes)", () => {
  const doc = parseDocument(fixture("cppagent_test_current_1.0.xml"));
  assert(doc.kind === "streams");
  assertEquals(doc.header.instanceId, null);
  assertEquals(doc.header.creationTime, null);
  assertEquals(doc.header.bufferSize, null);
  assertEquals([doc.header.firstSequence, doc.header.nextSequence, doc.header.lastSequence], [
    10123733,
    10254805,
    10254804,
  ]);
  assertEquals(doc.observations.length, 16);
  const first = doc.observations[0];
  assertEquals(first, {
    dataItemId: "13",
    sequence: 16,
    timestamp: null,
    category: "SAMPLE",
    type: "SPINDLE_SPEED",
    subType: "OVERRIDE",
    value: "100",
    component: "Spindle",
    componentName: "S",
    device: "LinuxCNC",
    deviceUuid: "000",
  });
});

Deno.test("parse: /current 1.4 conditions keep level, nativeCode and text; UNAVAILABLE is a value", () => {
  const doc = parseDocument(fixture("cppagent_SimpleStream_1.4.xml"));
  assert(doc.kind === "streams");
  assertEquals(doc.observations[0].value, "UNAVAILABLE");
  const conds = doc.observations.filter((o) => o.category === "CONDITION");
  assertEquals(conds.map((c) => [c.level, c.type, c.nativeCode, c.value, c.timestamp]), [
    ["NORMAL", "AMPERAGE", null, "", Date.UTC(2018, 9, 31, 20, 34, 19, 998)],
    ["WARNING", "AMPERAGE", "MOT-WARN", "Spindle Motor Warning", Date.UTC(2018, 9, 31, 20, 45, 19, 998)],
    ["FAULT", "AMPERAGE", "MOT-OVR", "Spindle Motor Overload", Date.UTC(2018, 9, 31, 20, 49, 19, 998)],
  ]);
  assertEquals(doc.observations.filter((o) => o.type === "VOLT_AMPERE_TIME_SERIES").length, 4);
});

Deno.test("parse: MTConnectError documents, 1.x <Error> and 2.x <Errors><OutOfRange>", () => {
  const v1 = parseDocument(
    `<?xml version="1.0"?><MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.3"><Header instanceId="1" ` +
      `creationTime="2024-01-01T00:00:00Z"/><Errors><Error errorCode="OUT_OF_RANGE">'from' must be greater ` +
      `than 10</Error></Errors></MTConnectError>`,
  );
  assertEquals(v1.kind === "error" && v1.errors, [{
    code: "OUT_OF_RANGE",
    text: "'from' must be greater than 10",
  }]);
  const v2 = parseDocument(
    `<MTConnectError xmlns="urn:mtconnect.org:MTConnectError:2.2"><Header instanceId="1"/><Errors>` +
      `<OutOfRange><ErrorMessage>from too small</ErrorMessage></OutOfRange></Errors></MTConnectError>`,
  );
  assertEquals(v2.kind === "error" && v2.errors, [{ code: "OUT_OF_RANGE", text: "from too small" }]);
});

Deno.test("parse: malformed XML and documents that are not MTConnect are refused with what was found", () => {
  const e1 = assertThrows(
    () => parseDocument("<MTConnectStreams><Header></MTConnectStreams>"),
    MTConnectDocumentError,
  );
  assert(e1.message.startsWith("malformed XML at line 1"), e1.message);
  const e2 = assertThrows(() => parseDocument("<html><body>Welcome</body></html>"), MTConnectDocumentError);
  assertEquals(
    e2.message,
    "expected an MTConnectStreams, MTConnectDevices or MTConnectError document, got <html>",
  );
  const e3 = assertThrows(() => parseDocument("plain text"), MTConnectDocumentError);
  assert(/malformed|no root/.test(e3.message), e3.message);
});

Deno.test("parseTimestamp and elementType", () => {
  assertEquals(parseTimestamp("2018-10-31T20:34:19.9981Z"), Date.UTC(2018, 9, 31, 20, 34, 19, 998));
  assertEquals(parseTimestamp("2010-03-04T18:44:40+01:00"), Date.UTC(2010, 2, 4, 17, 44, 40));
  assertEquals(parseTimestamp("2010-03-04T18:44:40"), Date.UTC(2010, 2, 4, 18, 44, 40));
  for (const bad of ["", "TIME", "yesterday", undefined, null]) assertEquals(parseTimestamp(bad), null);
  assertEquals(elementType("SpindleSpeed"), "SPINDLE_SPEED");
  assertEquals(elementType("PathFeedrateOverride"), "PATH_FEEDRATE_OVERRIDE");
  assertEquals(elementType("VoltAmpereTimeSeries"), "VOLT_AMPERE_TIME_SERIES");
});
