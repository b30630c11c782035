/**
 * MTConnect documents to a neutral model, with fast-xml-parser (never regexes on XML). Pure: text in, data out.
 *
 * - `MTConnectDevices` (/probe): the devices and their data items (id, category, type, subType, units, the
 *   component they belong to), in document order.
 * - `MTConnectStreams` (/current, /sample): the header (instanceId, sequences, creationTime) and every
 *   observation in document order, each with its data item id, sequence, timestamp, value, and for conditions
 *   the level (Normal, Warning, Fault, Unavailable), nativeCode and text.
 * - `MTConnectError`: its errors (errorCode and text).
 *
 * Both namespaces (`urn:mtconnect.org:...` and the old `urn:mtconnect.com:...`) and versions 1.1 to 2.x are the
 * same to this parser: it goes by local element names (namespace prefixes removed), so it does not check the
 * namespace itself. Empty header attributes and timestamps that are empty
 * or the literal `TIME` (some old adapters) become null. Anything that is not well-formed XML, or whose root is
 * not one of the three documents, throws {@link MTConnectDocumentError}.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";

/** The document header (every numeric field null when absent or empty). */
export interface Header {
  readonly instanceId: string | null;
  /** Epoch ms, or null. */
  readonly creationTime: number | null;
  readonly version: string | null;
  readonly nextSequence: number | null;
  readonly firstSequence: number | null;
  readonly lastSequence: number | null;
  readonly bufferSize: number | null;
}

/** The three MTConnect observation categories. */
export type Category = "SAMPLE" | "EVENT" | "CONDITION";

/** One data item of a /probe document. */
export interface DataItem {
  readonly id: string;
  readonly name: string | null;
  readonly category: Category;
  /** UPPER_SNAKE type, e.g. `SPINDLE_SPEED`. */
  readonly type: string;
  readonly subType: string | null;
  readonly units: string | null;
  /** Element name of the owning component (`Rotary`, `Linear`, `Path`, `Controller`, `Device`...). */
  readonly component: string;
  /** Name of the owning component, or null. */
  readonly componentName: string | null;
  /** nativeName of the owning component, or null. */
  readonly componentNativeName: string | null;
}

/** One device of a /probe document. */
export interface Device {
  readonly name: string | null;
  readonly uuid: string | null;
  readonly id: string | null;
  /** Data items in document order (the device's own first, then its components', depth first). */
  readonly dataItems: readonly DataItem[];
}

/** A condition's level, from its element name. */
export type ConditionLevel = "NORMAL" | "WARNING" | "FAULT" | "UNAVAILABLE";

/** One observation of a /current or /sample document. */
export interface Observation {
  readonly dataItemId: string;
  readonly sequence: number;
  /** Epoch ms, or null when the timestamp is empty, `TIME` or malformed. */
  readonly timestamp: number | null;
  readonly category: Category;
  /** UPPER_SNAKE type: from the element name (`SpindleSpeed` -> `SPINDLE_SPEED`), or a condition's `type`. */
  readonly type: string;
  readonly subType: string | null;
  /** The element's text (`UNAVAILABLE` included), "" when empty. */
  readonly value: string;
  /** Conditions only. */
  readonly level?: ConditionLevel;
  /** Conditions only. */
  readonly nativeCode?: string | null;
  readonly component: string | null;
  readonly componentName: string | null;
  /** The DeviceStream's name and uuid. */
  readonly device: string | null;
  readonly deviceUuid: string | null;
}

/** A parsed document. */
export type MTConnectDocument =
  | { readonly kind: "devices"; readonly header: Header; readonly devices: readonly Device[] }
  | { readonly kind: "streams"; readonly header: Header; readonly observations: readonly Observation[] }
  | { readonly kind: "error"; readonly header: Header; readonly errors: readonly MTConnectErrorEntry[] };

/** One `<Error errorCode="...">text</Error>` of an MTConnectError document. */
export interface MTConnectErrorEntry {
  /** INVALID_REQUEST, NO_DEVICE, OUT_OF_RANGE, QUERY_ERROR, TOO_MANY, UNSUPPORTED, ... */
  readonly code: string;
  readonly text: string;
}

/** The text is not well-formed XML, or not an MTConnect document. */
export class MTConnectDocumentError extends Error {
  override name = "MTConnectDocumentError";
}

// preserveOrder keeps document order (the "first in document order" rule depends on it); values stay strings.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  removeNSPrefix: true,
  trimValues: true,
  processEntities: true,
});

type Node = Record<string, unknown>;
const ATTRS = ":@";

function nameOf(n: Node): string {
  for (const k in n) if (k !== ATTRS) return k;
  return "";
}
const kids = (n: Node): Node[] => (n[nameOf(n)] as Node[] | undefined) ?? [];
const attrs = (n: Node): Record<string, string> => (n[ATTRS] as Record<string, string> | undefined) ?? {};
function text(n: Node): string {
  let out = "";
  for (const c of kids(n)) if ("#text" in c) out += String(c["#text"]);
  return out.trim();
}
const child = (n: Node, name: string): Node | undefined => kids(n).find((c) => nameOf(c) === name);
const str = (v: string | undefined): string | null => (v === undefined || v === "" ? null : v);
function int(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an MTConnect timestamp (ISO 8601; UTC when no offset is given, as the standard requires) to epoch
 * ms, or null for empty, `TIME` or anything malformed. Fractions beyond milliseconds are truncated.
 */
export function parseTimestamp(v: string | undefined | null): number | null {
  if (!v) return null;
  const m = ISO.exec(v.trim());
  if (!m) return null;
  const ms = m[7] ? Math.floor(Number(m[7].slice(1, 4).padEnd(3, "0"))) : 0;
  let t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
  const tz = m[8];
  if (tz && tz !== "Z") {
    const sign = tz[0] === "-" ? -1 : 1;
    const hhmm = tz.slice(1).replace(":", "");
    t -= sign * (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(2, 4))) * 60_000;
  }
  return Number.isFinite(t) ? t : null;
}

/** `SpindleSpeed` -> `SPINDLE_SPEED`, `PathFeedrateOverride` -> `PATH_FEEDRATE_OVERRIDE`. */
export function elementType(element: string): string {
  return element.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
}

function header(root: Node): Header {
  const h = attrs(child(root, "Header") ?? {});
  return {
    instanceId: str(h.instanceId),
    creationTime: parseTimestamp(h.creationTime),
    version: str(h.version),
    nextSequence: int(h.nextSequence),
    firstSequence: int(h.firstSequence),
    lastSequence: int(h.lastSequence),
    bufferSize: int(h.bufferSize),
  };
}

const CATEGORIES = new Set<string>(["SAMPLE", "EVENT", "CONDITION"]);

function collectDataItems(
  comp: Node,
  out: DataItem[],
): void {
  const a = attrs(comp);
  const component = nameOf(comp);
  for (const c of kids(comp)) {
    const n = nameOf(c);
    if (n === "DataItems") {
      for (const d of kids(c)) {
        if (nameOf(d) !== "DataItem") continue;
        const da = attrs(d);
        const category = (da.category ?? "").toUpperCase();
        if (!da.id || !CATEGORIES.has(category) || !da.type) continue;
        out.push({
          id: da.id,
          name: str(da.name),
          category: category as Category,
          type: da.type.toUpperCase(),
          subType: str(da.subType)?.toUpperCase() ?? null,
          units: str(da.units)?.toUpperCase() ?? null,
          component,
          componentName: str(a.name),
          componentNativeName: str(a.nativeName),
        });
      }
    } else if (n === "Components") {
      for (const sub of kids(c)) if (nameOf(sub) !== "#text") collectDataItems(sub, out);
    }
  }
}

function devices(root: Node): Device[] {
  const out: Device[] = [];
  for (const d of kids(child(root, "Devices") ?? {})) {
    const n = nameOf(d);
    if (n !== "Device") continue; // 2.x also lists its own <Agent>: not a machine
    const a = attrs(d);
    const dataItems: DataItem[] = [];
    collectDataItems(d, dataItems);
    out.push({ name: str(a.name), uuid: str(a.uuid), id: str(a.id), dataItems });
  }
  return out;
}

const SECTIONS: Record<string, Category> = { Samples: "SAMPLE", Events: "EVENT", Condition: "CONDITION" };
const LEVELS: Record<string, ConditionLevel> = {
  Normal: "NORMAL",
  Warning: "WARNING",
  Fault: "FAULT",
  Unavailable: "UNAVAILABLE",
};

function observations(root: Node): Observation[] {
  const out: Observation[] = [];
  for (const ds of kids(child(root, "Streams") ?? {})) {
    if (nameOf(ds) !== "DeviceStream") continue;
    const da = attrs(ds);
    const device = str(da.name);
    const deviceUuid = str(da.uuid);
    for (const cs of kids(ds)) {
      if (nameOf(cs) !== "ComponentStream") continue;
      const ca = attrs(cs);
      for (const section of kids(cs)) {
        const category = SECTIONS[nameOf(section)];
        if (!category) continue;
        for (const o of kids(section)) {
          const element = nameOf(o);
          if (element === "" || element === "#text") continue;
          const oa = attrs(o);
          const sequence = int(oa.sequence);
          if (!oa.dataItemId || sequence === null) continue;
          const base = {
            dataItemId: oa.dataItemId,
            sequence,
            timestamp: parseTimestamp(oa.timestamp),
            category,
            subType: str(oa.subType)?.toUpperCase() ?? null,
            value: text(o),
            component: str(ca.component),
            componentName: str(ca.name),
            device,
            deviceUuid,
          };
          if (category === "CONDITION") {
            const level = LEVELS[element];
            if (!level) continue;
            out.push({
              ...base,
              type: (oa.type ?? "").toUpperCase(),
              level,
              nativeCode: str(oa.nativeCode),
            });
          } else {
            out.push({ ...base, type: elementType(element) });
          }
        }
      }
    }
  }
  return out;
}

const ROOTS = new Set(["MTConnectStreams", "MTConnectDevices", "MTConnectError"]);

/** Parses one document (see the module comment). Throws {@link MTConnectDocumentError}. */
export function parseDocument(xml: string): MTConnectDocument {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const e = valid.err;
    throw new MTConnectDocumentError(`malformed XML at line ${e.line}, column ${e.col}: ${e.msg}`);
  }
  const top = parser.parse(xml) as Node[];
  const root = top.find((n) => {
    const name = nameOf(n);
    return name !== "?xml" && name !== "#text" && name !== "#comment";
  });
  const rootName = root ? nameOf(root) : "";
  if (!root || !ROOTS.has(rootName)) {
    throw new MTConnectDocumentError(
      `expected an MTConnectStreams, MTConnectDevices or MTConnectError document, got ${
        rootName ? `<${rootName}>` : "no root element"
      }`,
    );
  }
  const h = header(root);
  if (rootName === "MTConnectDevices") return { kind: "devices", header: h, devices: devices(root) };
  if (rootName === "MTConnectStreams") {
    return { kind: "streams", header: h, observations: observations(root) };
  }
  const errors: MTConnectErrorEntry[] = [];
  const collect = (n: Node) => {
    for (const c of kids(n)) {
      const cn = nameOf(c);
      if (cn === "Error") errors.push({ code: attrs(c).errorCode ?? "UNKNOWN", text: text(c) });
      else if (cn === "Errors") collect(c);
    }
  };
  collect(root);
  // MTConnect 2.x error documents may carry specific elements (<OutOfRange>...) instead of <Error>.
  if (errors.length === 0) {
    for (const c of kids(child(root, "Errors") ?? {})) {
      const cn = nameOf(c);
      if (cn && cn !== "#text") {
        errors.push({ code: elementType(cn), text: text(child(c, "ErrorMessage") ?? c) });
      }
    }
  }
  return { kind: "error", header: h, errors };
}
