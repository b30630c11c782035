/**
 * A scripted MTConnect agent for tests (and the bench): HTTP on 127.0.0.1 port 0 that behaves like the
 * reference agent (cppagent) where the driver can tell: a ring buffer of `bufferSize` sequence-numbered
 * observations, an instanceId, `/probe`, `/current`, `/sample?from&count` (also under `/<device>/...`), and
 * MTConnectError documents (OUT_OF_RANGE when `from` left the buffer or is past nextSequence, NO_DEVICE,
 * INVALID_REQUEST). Only what a real agent cannot be made to do on demand is scripted: `restart()` (new
 * instanceId, sequences from 1 again), `overrun(n)` (n observations at once, past the buffer), a clock skew,
 * and faults (slow answers, 404/500, malformed XML, a non-MTConnect page, an error document).
 */

/** One data item of the fake device. */
export interface FakeItem {
  readonly id: string;
  readonly category: "SAMPLE" | "EVENT" | "CONDITION";
  readonly type: string;
  readonly subType?: string;
  readonly units?: string;
  /** Component element and name, e.g. ["Rotary", "C"]. */
  readonly component: readonly [string, string];
}

/** The default device: a 3-axis mill. Feedrate in MILLIMETER/MINUTE, to exercise the conversion. */
export const VMC_ITEMS: readonly FakeItem[] = [
  { id: "avail", category: "EVENT", type: "AVAILABILITY", component: ["Device", "VMC-3Axis"] },
  { id: "estop", category: "EVENT", type: "EMERGENCY_STOP", component: ["Controller", "controller"] },
  { id: "system", category: "CONDITION", type: "SYSTEM", component: ["Controller", "controller"] },
  { id: "exec", category: "EVENT", type: "EXECUTION", component: ["Path", "path"] },
  { id: "mode", category: "EVENT", type: "CONTROLLER_MODE", component: ["Path", "path"] },
  { id: "program", category: "EVENT", type: "PROGRAM", component: ["Path", "path"] },
  { id: "parts", category: "EVENT", type: "PART_COUNT", component: ["Path", "path"] },
  {
    id: "feed",
    category: "SAMPLE",
    type: "PATH_FEEDRATE",
    subType: "ACTUAL",
    units: "MILLIMETER/MINUTE",
    component: ["Path", "path"],
  },
  {
    id: "fovr",
    category: "EVENT",
    type: "PATH_FEEDRATE_OVERRIDE",
    units: "PERCENT",
    component: ["Path", "path"],
  },
  {
    id: "sspeed",
    category: "SAMPLE",
    type: "ROTARY_VELOCITY",
    subType: "ACTUAL",
    units: "REVOLUTION/MINUTE",
    component: ["Rotary", "C"],
  },
  { id: "sload", category: "SAMPLE", type: "LOAD", units: "PERCENT", component: ["Rotary", "C"] },
];

/** A fault the agent shows on the next requests (until cleared with `fault(null)`). */
export type AgentFault =
  | { readonly kind: "slow"; readonly ms: number }
  | { readonly kind: "status"; readonly status: number; readonly body?: string }
  | { readonly kind: "malformed" }
  | { readonly kind: "html" }
  | { readonly kind: "error"; readonly code: string; readonly text: string };

interface Obs {
  seq: number;
  ts: number;
  item: FakeItem;
  value: string;
  level?: "Normal" | "Warning" | "Fault" | "Unavailable";
  nativeCode?: string;
}

/** Options of {@link FakeMTConnectAgent.start}. */
export interface FakeAgentOptions {
  /** Ring buffer size (default 1024). */
  readonly bufferSize?: number;
  /** Devices by name (default one: VMC-3Axis with {@link VMC_ITEMS}). */
  readonly devices?: Readonly<Record<string, readonly FakeItem[]>>;
  /** Schema version in the namespaces (default "1.7"); `"1.1"` with `oldNamespace` for urn:mtconnect.com. */
  readonly version?: string;
  readonly oldNamespace?: boolean;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
const pascal = (t: string) => t.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
const iso = (ms: number) => new Date(ms).toISOString();

/** The running fake agent. */
export class FakeMTConnectAgent {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #o: Required<Omit<FakeAgentOptions, "devices">> & { devices: Record<string, readonly FakeItem[]> };
  #buffer: Obs[] = [];
  #next = 1;
  #instance = 1_700_000_000;
  #fault: AgentFault | null = null;
  /** Added to creationTime (ms): the agent's clock is this far ahead. */
  clockSkewMs = 0;
  /** Paths requested, in order. */
  readonly requests: string[] = [];

  private constructor(opts: FakeAgentOptions) {
    this.#o = {
      bufferSize: opts.bufferSize ?? 1024,
      devices: { ...(opts.devices ?? { "VMC-3Axis": VMC_ITEMS }) },
      version: opts.version ?? "1.7",
      oldNamespace: opts.oldNamespace ?? false,
    };
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#handle(req),
    );
    this.#initial(Date.now());
  }

  /** Starts the agent with every data item at its initial value. */
  static start(opts: FakeAgentOptions = {}): FakeMTConnectAgent {
    return new FakeMTConnectAgent(opts);
  }

  /** The port listened on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** The current instanceId. */
  get instanceId(): string {
    return String(this.#instance);
  }

  /** The sequence the next observation gets. */
  get nextSequence(): number {
    return this.#next;
  }

  /** Every observation still in the buffer: [seq, ts, dataItemId, value]. */
  observations(): [number, number, string, string][] {
    return this.#buffer.map((o) => [o.seq, o.ts, o.item.id, o.value]);
  }

  #initial(ts: number) {
    for (const items of Object.values(this.#o.devices)) {
      for (const item of items) {
        if (item.category === "CONDITION") this.#push({ ts, item, value: "", level: "Normal" });
        else if (item.type === "AVAILABILITY") this.#push({ ts, item, value: "AVAILABLE" });
        else this.#push({ ts, item, value: "UNAVAILABLE" });
      }
    }
  }

  #item(id: string): FakeItem {
    for (const items of Object.values(this.#o.devices)) {
      const it = items.find((i) => i.id === id);
      if (it) return it;
    }
    throw new Error(`fake agent: no data item ${id}`);
  }

  #push(o: Omit<Obs, "seq">): number {
    const seq = this.#next++;
    this.#buffer.push({ ...o, seq });
    if (this.#buffer.length > this.#o.bufferSize) this.#buffer.shift();
    return seq;
  }

  /** Records an observation (as an adapter would send it); returns its sequence. */
  add(
    id: string,
    value: string,
    opts: { ts?: number; level?: "Normal" | "Warning" | "Fault"; nativeCode?: string } = {},
  ): number {
    return this.#push({ ts: opts.ts ?? Date.now(), item: this.#item(id), value, ...opts });
  }

  /** Restarts the agent: new instanceId, empty buffer, sequences from 1, initial values again. */
  restart(): void {
    this.#instance++;
    this.#buffer = [];
    this.#next = 1;
    this.#initial(Date.now());
  }

  /** Records `n` spindle-speed samples at once, pushing older observations out of the ring buffer. */
  overrun(n: number): void {
    const ts = Date.now();
    for (let i = 0; i < n; i++) {
      this.add(this.#o.devices[Object.keys(this.#o.devices)[0]][0].id, "AVAILABLE", { ts });
    }
  }

  /** Shows `f` on every request from now on (null: healthy again). */
  fault(f: AgentFault | null): void {
    this.#fault = f;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  #ns(doc: string): string {
    return `urn:mtconnect.${this.#o.oldNamespace ? "com" : "org"}:${doc}:${this.#o.version}`;
  }

  #header(extra: string): string {
    return `<Header creationTime="${
      iso(Date.now() + this.clockSkewMs)
    }" sender="fake" instanceId="${this.#instance}" ` +
      `version="${this.#o.version}.0" bufferSize="${this.#o.bufferSize}"${extra}/>`;
  }

  #xml(doc: string, header: string, body: string): Response {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<${doc} xmlns="${
      this.#ns(doc)
    }">${header}${body}</${doc}>\n`;
    return new Response(text, { headers: { "content-type": "text/xml" } });
  }

  #error(status: number, code: string, text: string): Response {
    const r = this.#xml(
      "MTConnectError",
      this.#header(""),
      `<Errors><Error errorCode="${code}">${esc(text)}</Error></Errors>`,
    );
    return new Response(r.body, { status, headers: r.headers });
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    this.requests.push(url.pathname + url.search);
    const f = this.#fault;
    if (f?.kind === "slow") await new Promise((r) => setTimeout(r, f.ms));
    if (f?.kind === "status") return new Response(f.body ?? "Internal Server Error", { status: f.status });
    if (f?.kind === "malformed") {
      return new Response(`<?xml version="1.0"?><MTConnectStreams><Header instanceId="1"><Streams>`, {
        headers: { "content-type": "text/xml" },
      });
    }
    if (f?.kind === "html") return new Response("<html><body><h1>Router login</h1></body></html>");
    if (f?.kind === "error") return this.#error(400, f.code, f.text);
    const parts = url.pathname.split("/").filter(Boolean);
    const op = parts.pop() ?? "";
    const deviceName = parts.length ? decodeURIComponent(parts[parts.length - 1]) : null;
    const names = Object.keys(this.#o.devices);
    if (deviceName !== null && !names.includes(deviceName)) {
      return this.#error(404, "NO_DEVICE", `Could not find the device '${deviceName}'`);
    }
    const devices = deviceName ? [deviceName] : names;
    const first = this.#buffer[0]?.seq ?? this.#next;
    const seqs = ` firstSequence="${first}" lastSequence="${this.#next - 1}"`;
    if (op === "probe") return this.#xml("MTConnectDevices", this.#header(""), this.#probe(devices));
    if (op === "current") {
      const latest = new Map<string, Obs[]>();
      for (const o of this.#buffer) {
        const list = latest.get(o.item.id) ?? [];
        // Conditions keep their active Warnings/Faults; everything else its latest value.
        const keep = o.level === "Warning" || o.level === "Fault"
          ? list.filter((x) => x.level !== "Normal" && x.nativeCode !== o.nativeCode)
          : [];
        latest.set(o.item.id, [...keep, o]);
      }
      const obs = [...latest.values()].flat().sort((a, b) => a.seq - b.seq);
      return this.#xml(
        "MTConnectStreams",
        this.#header(` nextSequence="${this.#next}"${seqs}`),
        this.#streams(devices, obs),
      );
    }
    if (op === "sample") {
      const from = Number(url.searchParams.get("from") ?? first);
      const count = Number(url.searchParams.get("count") ?? 100);
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(count) || count < 1) {
        return this.#error(400, "INVALID_REQUEST", "'from' and 'count' must be positive integers");
      }
      if (from < first || from > this.#next) {
        return this.#error(
          400,
          "OUT_OF_RANGE",
          `'from' must be greater than or equal to ${first} and less than or equal to ${this.#next}.`,
        );
      }
      const mine = new Set(devices.flatMap((d) => this.#o.devices[d].map((i) => i.id)));
      const obs: Obs[] = [];
      let next = from;
      for (const o of this.#buffer) {
        if (o.seq < from) continue;
        if (obs.length >= count) break;
        next = o.seq + 1;
        if (mine.has(o.item.id)) obs.push(o);
      }
      if (obs.length < count) next = this.#next;
      return this.#xml(
        "MTConnectStreams",
        this.#header(` nextSequence="${next}"${seqs}`),
        this.#streams(devices, obs),
      );
    }
    return this.#error(400, "UNSUPPORTED", `The following path is invalid: ${url.pathname}`);
  }

  #probe(devices: string[]): string {
    let out = "<Devices>";
    for (const name of devices) {
      const items = this.#o.devices[name];
      const item = (i: FakeItem) =>
        `<DataItem id="${i.id}" category="${i.category}" type="${i.type}"` +
        `${i.subType ? ` subType="${i.subType}"` : ""}${i.units ? ` units="${i.units}"` : ""}/>`;
      const own = items.filter((i) => i.component[0] === "Device");
      const comps = new Map<string, FakeItem[]>();
      for (const i of items) {
        if (i.component[0] === "Device") continue;
        const k = i.component.join("|");
        comps.set(k, [...(comps.get(k) ?? []), i]);
      }
      out += `<Device id="${name}-dev" name="${esc(name)}" uuid="${esc(name)}-uuid">` +
        `<DataItems>${own.map(item).join("")}</DataItems><Components>`;
      for (const [k, list] of comps) {
        const [el, cname] = k.split("|");
        out += `<${el} id="${name}-${cname}" name="${cname}"><DataItems>${
          list.map(item).join("")
        }</DataItems></${el}>`;
      }
      out += "</Components></Device>";
    }
    return out + "</Devices>";
  }

  #streams(devices: string[], obs: Obs[]): string {
    let out = "<Streams>";
    for (const name of devices) {
      const ids = new Set(this.#o.devices[name].map((i) => i.id));
      const byComp = new Map<string, Obs[]>();
      for (const o of obs) {
        if (!ids.has(o.item.id)) continue;
        const k = o.item.component.join("|");
        byComp.set(k, [...(byComp.get(k) ?? []), o]);
      }
      out += `<DeviceStream name="${esc(name)}" uuid="${esc(name)}-uuid">`;
      for (const [k, list] of byComp) {
        const [el, cname] = k.split("|");
        out += `<ComponentStream component="${el}" name="${cname}" componentId="${name}-${cname}">`;
        for (
          const [section, cat] of [["Samples", "SAMPLE"], ["Events", "EVENT"], ["Condition", "CONDITION"]]
        ) {
          const these = list.filter((o) => o.item.category === cat);
          if (!these.length) continue;
          out += `<${section}>`;
          for (const o of these) {
            const a = `dataItemId="${o.item.id}" sequence="${o.seq}" timestamp="${iso(o.ts)}"` +
              `${o.item.subType ? ` subType="${o.item.subType}"` : ""}`;
            if (cat === "CONDITION") {
              out += `<${o.level ?? "Normal"} ${a} type="${o.item.type}"${
                o.nativeCode ? ` nativeCode="${esc(o.nativeCode)}"` : ""
              }>${esc(o.value)}</${o.level ?? "Normal"}>`;
            } else {
              const el2 = pascal(o.item.type);
              out += `<${el2} ${a}>${esc(o.value)}</${el2}>`;
            }
          }
          out += `</${section}>`;
        }
        out += "</ComponentStream>";
      }
      out += "</DeviceStream>";
    }
    return out + "</Streams>";
  }
}
