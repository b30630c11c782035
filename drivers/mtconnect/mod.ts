/**
 * MTConnect driver: reads every observation of one device from an MTConnect agent's sequence-numbered buffer,
 * so that a state lasting less than the poll interval (a 200 ms FEED_HOLD, a short alarm) still arrives as
 * its own reading. See README.md beside this file for the rules, and docs/buffer.md for the cursor.
 *
 * Connection (once per worker, and again after the agent restarted): `GET /probe` (data items; the device is
 * chosen by `options.device` or is the only one), then either resume from `ctx.cursor` (same instanceId,
 * sequence still in the agent's buffer) or anchor with `GET /current`. Each poll then asks
 * `GET /sample?from=<next>&count=<sample_count>` and again while the agent has more (`nextSequence <=
 * lastSequence`), up to 10 requests, 1000 readings or most of the poll timeout, and returns the readings
 * (mapping.ts) with the cursor `{instance, next, state, last, gaps, lost}`: the agent stores it with them in
 * one transaction, so after any crash the next worker resumes exactly after the last delivered observation.
 *
 * Gaps: a new instanceId (the agent restarted), `from` below `firstSequence` or an OUT_OF_RANGE error (this
 * client fell behind the agent's ring buffer) re-anchors with /current and emits one reading of the state then
 * with `observation_gap` (observations not delivered one by one) and `observation_gap_reason`; counted in the
 * driver status (`observation_gaps_total`, `observations_lost_total`), which survives restarts in the cursor.
 */
import type { Metrics, MetricValue } from "../../src/record/mod.ts";
import type { Driver, DriverContext, DriverStatus, ReadingBatch, TimedReading } from "../types.ts";
import { MAX_READINGS_PER_POLL } from "../types.ts";
import { errorOf, type Fetched, MTConnectClient, MTConnectDriverError } from "./client.ts";
import { Catalog, MachineState, metricsOf, readingsOf, type StateJson } from "./mapping.ts";
import type { Device, Header, Observation } from "./parse.ts";

/** What the driver stores in the agent's buffer with its readings. */
export interface Cursor {
  readonly v: 1;
  /** The agent's instanceId the sequence belongs to. */
  readonly instance: string;
  /** Next sequence to read. */
  readonly next: number;
  /** Device state after the last delivered observation. */
  readonly state: StateJson;
  /** Metrics of the last delivered reading (changes are judged against it). */
  readonly last: Metrics | null;
  /** Gaps so far, and observations not delivered one by one. */
  readonly gaps: number;
  readonly lost: number;
}

/** Why the driver re-anchored. */
export type GapReason = "agent_restart" | "buffer_overrun";

const MAX_REQUESTS_PER_POLL = 10;

interface Connection {
  device: Device;
  /** `""` or `/<device name>`, in front of /current and /sample. */
  devicePath: string;
  catalog: Catalog;
  state: MachineState;
  instance: string;
  next: number;
  last: Metrics | null;
  skewWarned: boolean;
}

/** The MTConnect driver. */
export class MTConnectDriver implements Driver {
  #client: MTConnectClient | null = null;
  #ctx: DriverContext | null = null;
  #device: string | null = null;
  #count = 1000;
  #maxSkewMs = 120_000;
  #conn: Connection | null = null;
  #resume: Cursor | null = null;
  #gaps = 0;
  #lost = 0;
  #skewMs: number | null = null;
  readonly #now: () => number;

  /** @param now clock (epoch ms), injectable for tests */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Reads the options and the stored cursor; the first poll connects. */
  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void> {
    if (ctx.host === null || ctx.port === null) {
      return Promise.reject(new Error("mtconnect: host is required"));
    }
    const prefix = typeof options.path_prefix === "string" ? options.path_prefix : "";
    this.#client = new MTConnectClient(ctx.host, ctx.port, prefix, this.#now);
    this.#ctx = ctx;
    this.#device = typeof options.device === "string" && options.device !== "" ? options.device : null;
    if (typeof options.sample_count === "number") this.#count = options.sample_count;
    if (typeof options.max_clock_skew === "number") this.#maxSkewMs = options.max_clock_skew;
    this.#resume = parseCursor(ctx.cursor);
    this.#gaps = this.#resume?.gaps ?? 0;
    this.#lost = this.#resume?.lost ?? 0;
    return Promise.resolve();
  }

  /** Reads what is new since the last poll (see the module comment). */
  async poll(): Promise<ReadingBatch> {
    if (!this.#client || !this.#ctx) throw new Error("mtconnect: poll before init");
    const deadline = this.#now() + Math.max(50, this.#ctx.timeoutMs * 0.8);
    const readings: TimedReading[] = [];
    let lastHeader: Header | null = null;
    if (!this.#conn) {
      const r = await this.#connect(deadline);
      if (r) readings.push(r);
    }
    const conn = this.#conn!;
    for (let n = 0; n < MAX_REQUESTS_PER_POLL; n++) {
      if (this.#now() >= deadline) break;
      const path = `${conn.devicePath}/sample?from=${conn.next}&count=${this.#count}`;
      const got = await this.#client.get(path, deadline - this.#now());
      const doc = got.doc;
      if (doc.kind === "error") {
        if (doc.errors.some((e) => e.code === "OUT_OF_RANGE")) {
          readings.push(await this.#anchor(deadline, "buffer_overrun", conn.next));
          break;
        }
        throw errorOf(doc, this.#client.url(path));
      }
      if (doc.kind !== "streams") throw unexpected(this.#client.url(path), "MTConnectStreams", doc.kind);
      const h = doc.header;
      this.#checkSkew(h, got);
      if (h.instanceId !== conn.instance || (h.nextSequence !== null && h.nextSequence < conn.next)) {
        readings.push(await this.#restart(deadline));
        break;
      }
      if (h.firstSequence !== null && conn.next < h.firstSequence) {
        readings.push(await this.#anchor(deadline, "buffer_overrun", conn.next));
        break;
      }
      lastHeader = h;
      const obs = this.#ofDevice(doc.observations);
      const room = MAX_READINGS_PER_POLL - readings.length;
      const r = readingsOf(conn.catalog, conn.state, obs, {
        previous: conn.last,
        fallbackTs: h.creationTime ?? got.at,
        maxReadings: room,
      });
      for (const x of r.readings) readings.push({ ts: x.ts, metrics: x.metrics });
      if (r.readings.length) conn.last = r.readings[r.readings.length - 1].metrics;
      const next = r.resumeAt ?? h.nextSequence ?? conn.next;
      conn.next = next;
      const more = r.resumeAt === null && h.nextSequence !== null && h.lastSequence !== null &&
        h.nextSequence <= h.lastSequence;
      if (!more || readings.length >= MAX_READINGS_PER_POLL - 1) break;
    }
    if (readings.length === 0) {
      // Nothing new: the current state once, stamped with the agent's clock (a heartbeat).
      const m = metricsOf(conn.catalog, conn.state);
      readings.push({ ts: lastHeader?.creationTime ?? this.#now(), metrics: m });
      conn.last = m;
    }
    return { readings, cursor: this.#cursor(), status: this.#status() };
  }

  /** Drops the connection state (fetch keeps no sockets we own). */
  close(): Promise<void> {
    this.#conn = null;
    return Promise.resolve();
  }

  #cursor(): MetricValue {
    const c = this.#conn!;
    const cursor: Cursor = {
      v: 1,
      instance: c.instance,
      next: c.next,
      state: c.state.toJSON(),
      last: c.last,
      gaps: this.#gaps,
      lost: this.#lost,
    };
    return cursor as unknown as MetricValue;
  }

  #status(): DriverStatus {
    const c = this.#conn;
    return {
      device: c?.device.name ?? c?.device.uuid ?? null,
      instance_id: c?.instance ?? null,
      next_sequence: c?.next ?? null,
      clock_skew_ms: this.#skewMs,
      observation_gaps_total: this.#gaps,
      observations_lost_total: this.#lost,
    };
  }

  #ofDevice(obs: readonly Observation[]): Observation[] {
    const d = this.#conn!.device;
    return obs.filter((o) =>
      (o.device === null && o.deviceUuid === null) || (d.name !== null && o.device === d.name) ||
      (d.uuid !== null && o.deviceUuid === d.uuid)
    );
  }

  #checkSkew(h: Header, got: Fetched): void {
    if (h.creationTime === null) return;
    this.#skewMs = h.creationTime - got.at;
    const c = this.#conn;
    if (c && !c.skewWarned && Math.abs(this.#skewMs) > this.#maxSkewMs) {
      c.skewWarned = true;
      console.warn(
        `WARN mtconnect ${this.#ctx!.machineId}: the agent's clock is ${
          (this.#skewMs / 1000).toFixed(1)
        } s ` +
          `${this.#skewMs > 0 ? "ahead of" : "behind"} this computer's (max_clock_skew ${
            this.#maxSkewMs / 1000
          } s); ` +
          `readings keep the agent's timestamps`,
      );
    }
  }

  /** /probe, device choice, then resume from the stored cursor or anchor. Returns the first reading, if any. */
  async #connect(deadline: number, restarted = false): Promise<TimedReading | null> {
    const client = this.#client!;
    const got = await client.get("/probe", deadline - this.#now());
    if (got.doc.kind === "error") throw errorOf(got.doc, client.url("/probe"));
    if (got.doc.kind !== "devices") throw unexpected(client.url("/probe"), "MTConnectDevices", got.doc.kind);
    const device = this.#choose(got.doc.devices);
    const instance = got.doc.header.instanceId ?? "";
    const resume = this.#resume;
    this.#resume = null;
    this.#conn = {
      device,
      devicePath: this.#device === null ? "" : `/${encodeURIComponent(device.name ?? device.uuid ?? "")}`,
      catalog: new Catalog(device.dataItems),
      state: new MachineState(),
      instance,
      next: 0,
      last: null,
      skewWarned: false,
    };
    if (!restarted && resume && resume.instance === instance) {
      const state = MachineState.fromJSON(resume.state);
      if (state) {
        // The first /sample checks that `next` is still in the agent's buffer (else: buffer_overrun).
        Object.assign(this.#conn, { state, next: resume.next, last: resume.last });
        return null;
      }
    }
    return await this.#anchor(deadline, restarted || resume ? "agent_restart" : null, null);
  }

  #choose(devices: readonly Device[]): Device {
    const names = devices.map((d) => d.name ?? d.uuid ?? "?");
    const list = names.length ? names.join(", ") : "none";
    if (this.#device === null) {
      if (devices.length === 1) return devices[0];
      throw new MTConnectDriverError(
        "no_device",
        devices.length === 0
          ? "the agent's /probe lists no device"
          : `the agent serves ${devices.length} devices (${list}): set options.device to one of them`,
      );
    }
    const d = devices.find((x) => x.name === this.#device || x.uuid === this.#device);
    if (!d) {
      throw new MTConnectDriverError(
        "no_device",
        `options.device: expected one of the agent's devices (${list}), got ${JSON.stringify(this.#device)}`,
      );
    }
    return d;
  }

  /** The agent restarted (new instanceId): re-probe (data items may have changed), re-anchor, report it. */
  async #restart(deadline: number): Promise<TimedReading> {
    this.#conn = null;
    return (await this.#connect(deadline, true))!;
  }

  /**
   * `GET /current`: the state now and the sequence to go on from. With a reason, the reading carries
   * `observation_gap` (observations not delivered one by one: from `from` for an overrun, the new instance's
   * observations before now for a restart) and `observation_gap_reason`, and the gap is counted.
   */
  async #anchor(deadline: number, reason: GapReason | null, from: number | null): Promise<TimedReading> {
    const conn = this.#conn!;
    const client = this.#client!;
    const path = `${conn.devicePath}/current`;
    const got = await client.get(path, deadline - this.#now());
    if (got.doc.kind === "error") throw errorOf(got.doc, client.url(path));
    if (got.doc.kind !== "streams") throw unexpected(client.url(path), "MTConnectStreams", got.doc.kind);
    const h = got.doc.header;
    if (h.nextSequence === null) {
      throw new MTConnectDriverError(
        "not_mtconnect",
        `GET ${client.url(path)}: the header has no nextSequence`,
      );
    }
    this.#checkSkew(h, got);
    conn.instance = h.instanceId ?? conn.instance;
    conn.next = h.nextSequence;
    conn.state = new MachineState();
    const obs = this.#ofDevice(got.doc.observations).sort((a, b) => a.sequence - b.sequence);
    for (const o of obs) {
      conn.catalog.entry(o);
      conn.state.apply(o);
    }
    const metrics: Record<string, MetricValue> = { ...metricsOf(conn.catalog, conn.state) };
    if (reason) {
      const lost = reason === "buffer_overrun" && from !== null
        ? Math.max(0, h.nextSequence - from)
        : Math.max(0, h.nextSequence - (h.firstSequence ?? h.nextSequence));
      metrics.observation_gap = lost;
      metrics.observation_gap_reason = reason;
      this.#gaps++;
      this.#lost += lost;
      console.warn(
        `WARN mtconnect ${this.#ctx!.machineId}: ${
          reason === "agent_restart" ? "the MTConnect agent restarted" : "fell behind the agent's buffer"
        }; ${lost} observations not read one by one (re-anchored at sequence ${h.nextSequence})`,
      );
    }
    conn.last = metrics;
    return { ts: h.creationTime ?? got.at, metrics };
  }
}

function unexpected(url: string, expected: string, got: string): MTConnectDriverError {
  const names: Record<string, string> = {
    devices: "MTConnectDevices",
    streams: "MTConnectStreams",
    error: "MTConnectError",
  };
  return new MTConnectDriverError(
    "not_mtconnect",
    `GET ${url}: expected ${expected}, got ${names[got] ?? got}`,
  );
}

/** A stored cursor of this driver's shape, or null (another shape is ignored: the driver re-anchors). */
export function parseCursor(v: unknown): Cursor | null {
  if (typeof v !== "object" || v === null) return null;
  const c = v as Partial<Cursor>;
  if (c.v !== 1 || typeof c.instance !== "string" || !Number.isSafeInteger(c.next)) return null;
  if (typeof c.state !== "object" || c.state === null) return null;
  return {
    v: 1,
    instance: c.instance,
    next: c.next!,
    state: c.state,
    last: (c.last ?? null) as Metrics | null,
    gaps: Number.isSafeInteger(c.gaps) ? c.gaps! : 0,
    lost: Number.isSafeInteger(c.lost) ? c.lost! : 0,
  };
}

/** Entry point of the driver's module, called inside the machine's sandboxed Web Worker. */
export function createDriver(): Driver {
  return new MTConnectDriver();
}
