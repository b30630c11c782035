/**
 * The opt-in health and metrics endpoint of a real `run` subprocess: /metrics parsed by an independent parser
 * (parse-prometheus-text-format) with every documented series, consistent with `status --json`; /health 503
 * with its reasons when the cloud refuses the key and when the buffer's file system is full (a real tmpfs).
 */
import parsePrometheus from "parse-prometheus-text-format";
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";
import { canMountTmpfs, mount, unmount } from "./helpers/tmpfs.ts";
import { simMachines, statusJson } from "./helpers/scenario_util.ts";
import { VERSION } from "../src/version.ts";

const SIM = (n: number) => simMachines("sim", n, 200, 200);

const METRICS = 'metrics_listen = "127.0.0.1:0"';

/** The parser's view: family name -> samples (labels, value). Histograms keep buckets. */
type Family = { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string }[] };

async function scrape(url: string): Promise<Map<string, Family>> {
  const r = await fetch(`${url}/metrics`);
  assertEquals(r.status, 200);
  assertStringIncludes(r.headers.get("content-type") ?? "", "text/plain");
  const families = parsePrometheus(await r.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function sample(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = fams.get(name);
  if (!f) throw new Error(`series ${name} missing`);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (!m) throw new Error(`${name}${JSON.stringify(labels)} missing: ${JSON.stringify(f.metrics)}`);
  return Number(m.value);
}

function sum(fams: Map<string, Family>, name: string, labels: Record<string, string>): number {
  return fams.get(name)!.metrics
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
    .reduce((a, s) => a + Number(s.value), 0);
}

const status = statusJson;

async function health(url: string): Promise<{ code: number; body: { status: string; reasons: string[] } }> {
  const r = await fetch(`${url}/health`);
  return { code: r.status, body: await r.json() };
}

async function metricsUrl(stderr: () => string): Promise<string> {
  const m = await waitFor(
    "the metrics line",
    20_000,
    () => /metrics: serving (http:\/\/\S+)\/health/.exec(stderr()),
  );
  return m[1];
}

Deno.test("metrics: every series, consistent with status --json; /health 503 with the reason on auth_error", async () => {
  const plant = await makePlant(SIM(2), "", { agentExtra: METRICS });
  const agent = plant.startAgent();
  try {
    const url = await metricsUrl(agent.stderr);
    assert(url.startsWith("http://127.0.0.1:"), url);
    await waitFor("uploads", 20_000, () => plant.ingest.counts().unique >= 10);
    assertEquals(await health(url), { code: 200, body: { status: "ok", reasons: [] } });

    const before = await status(plant);
    const fams = await scrape(url);
    const scrapedAt = Date.now();
    for (
      const name of [
        "simco_polls_total",
        "simco_poll_duration_seconds",
        "simco_machine_state",
        "simco_worker_restarts_total",
        "simco_buffer_records",
        "simco_buffer_bytes",
        "simco_buffer_oldest_record_age_seconds",
        "simco_buffer_dropped_total",
        "simco_dead_letters",
        "simco_uplink_records_sent_total",
        "simco_uplink_requests_total",
        "simco_uplink_state",
        "simco_worker_memory_bytes",
        "simco_build_info",
      ]
    ) assert(fams.has(name), `series ${name} missing`);
    assertEquals(fams.get("simco_poll_duration_seconds")!.type, "HISTOGRAM");
    assertEquals(sample(fams, "simco_build_info", { version: VERSION }), 1);
    // status.json lags the agent by up to a second: before <= scrape <= a document written after the scrape.
    const after = await waitFor("a status written after the scrape", 10_000, async () => {
      const s = await status(plant);
      return s.updated_at! > scrapedAt + 100 ? s : null;
    });
    for (const [i, m] of before.machines.entries()) {
      const polls = sum(fams, "simco_polls_total", { machine: m.id });
      assert(m.polls_total <= polls && polls <= after.machines[i].polls_total, `${m.id}: polls ${polls}`);
      assertEquals(sample(fams, "simco_machine_state", { machine: m.id, state: "OK" }), 1);
      assertEquals(sample(fams, "simco_machine_state", { machine: m.id, state: "CRITICAL" }), 0);
      assert(sample(fams, "simco_worker_memory_bytes", { machine: m.id }) > 1024 * 1024);
    }
    const sent = sample(fams, "simco_uplink_records_sent_total");
    assert(before.uplink.sent_total <= sent && sent <= after.uplink.sent_total, `sent ${sent}`);
    assert(sample(fams, "simco_uplink_requests_total", { outcome: "ok" }) > 0);
    assertEquals(sample(fams, "simco_dead_letters"), after.buffer.dead_letter);
    assertEquals(sample(fams, "simco_buffer_dropped_total"), after.buffer.dropped_total);
    assert(sample(fams, "simco_buffer_bytes") > 0);

    // The cloud refuses the key: 503 with the reason, the state gauge and status --json agree.
    plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 401 });
    const h = await waitFor("503", 20_000, async () => {
      const h = await health(url);
      return h.code === 503 ? h : null;
    });
    assertEquals(h.body.status, "unhealthy");
    assert(h.body.reasons.some((r) => r.startsWith("uplink auth_error")), JSON.stringify(h.body));
    const denied = await scrape(url);
    assertEquals(sample(denied, "simco_uplink_state", { state: "auth_error" }), 1);
    assertEquals(sample(denied, "simco_uplink_state", { state: "ok" }), 0);
    assert(sample(denied, "simco_uplink_requests_total", { outcome: "auth_error" }) >= 1);
    await waitFor(
      "status auth_error",
      10_000,
      async () => (await status(plant)).uplink.state === "auth_error",
    );
    const notFound = await fetch(`${url}/nope`);
    assertEquals(notFound.status, 404);
    await notFound.body?.cancel();

    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0, agent.stderr());
    let refused = false;
    try {
      await (await fetch(`${url}/health`)).body?.cancel();
    } catch {
      refused = true;
    }
    assert(refused, "the endpoint outlived the agent");
  } finally {
    await plant.close();
  }
});

Deno.test({
  name:
    "metrics: /health 503 'buffer unwritable' while the data dir's file system is full (tmpfs), 200 after",
  ignore: !canMountTmpfs(),
  async fn() {
    const plant = await makePlant(SIM(2), "", { agentExtra: METRICS });
    const data = join(plant.dir, "data");
    await Deno.mkdir(data);
    await mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", data);
    try {
      // The cloud is down, so records pile up and every poll needs disk.
      plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
      const agent = plant.startAgent();
      const url = await metricsUrl(agent.stderr);
      await waitFor("healthy", 20_000, async () => (await health(url)).code === 200);
      const ballast = join(data, "ballast");
      const f = await Deno.open(ballast, { write: true, create: true });
      const chunk = new Uint8Array(16 * 1024);
      try {
        for (;;) await f.write(chunk);
      } catch { /* ENOSPC: the file system is full */ }
      f.close();
      const h = await waitFor("503", 30_000, async () => {
        const h = await health(url);
        return h.code === 503 ? h : null;
      });
      assert(h.body.reasons.some((r) => r.startsWith("buffer unwritable")), JSON.stringify(h.body));
      await Deno.remove(ballast);
      await waitFor("healthy again", 30_000, async () => (await health(url)).code === 200);
      Deno.kill(agent.pid, "SIGTERM");
      assertEquals((await agent.status).code, 0, agent.stderr());
      const err = agent.stderr();
      assert(!err.includes("logtape"), `internal logger output on a full disk:\n${err}`);
      assertEquals([...Deno.readDirSync(data)].filter((e) => e.name.endsWith(".tmp")).map((e) => e.name), []);
    } finally {
      await unmount(data);
      await plant.close();
    }
  },
});
