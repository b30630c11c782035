/**
 * The demo: a simulated plant (six machines: three healthy, one flaky, one that hangs, one that crashes), the
 * reference ingest on 127.0.0.1, and the real agent between them — real worker processes, real buffer.db, real
 * HTTP — with short durations so timeouts, kills, backoff and the breaker all show within 30 s. One "ack lost"
 * fault is injected part-way so the ingest's duplicate dropping shows too. Data lives in a temporary folder that
 * is removed at the end.
 */
import { join } from "node:path";
import { parseConfig } from "../config/parse.ts";
import type { Config } from "../config/types.ts";
import { startIngest } from "../ingest/mod.ts";
import { setupLogging, shutdownLogging } from "../log/mod.ts";
import { Agent } from "../engine/agent.ts";

/** Environment variable the demo config names for its api key. */
export const DEMO_KEY_ENV = "SIMCO_DEMO_API_KEY";

/** The embedded demo configuration; `{url}` is replaced with the local ingest's url. */
export const DEMO_TOML = `
[agent]
id = "demo-plant"
data_dir = "data"

[uplink]
url = "{url}"
api_key_env = "${DEMO_KEY_ENV}"
batch_size = 50
timeout = "2s"
max_backoff = "4s"

[defaults]
interval = "500ms"
timeout = "1s"
max_backoff = "4s"
breaker_threshold = 5
breaker_cooldown = "10s"

[[machines]]
id = "mill-01"
driver = "simulator"
options = { seed = 1, behaviour = "healthy" }

[[machines]]
id = "mill-02"
driver = "simulator"
options = { seed = 2, behaviour = "healthy" }

[[machines]]
id = "lathe-03"
driver = "simulator"
interval = "1s"
options = { seed = 3, behaviour = "healthy" }

[[machines]]
id = "flaky-04"
driver = "simulator"
options = { seed = 4, behaviour = "flaky", fail_rate = 0.35 }

[[machines]]
id = "hang-05"
driver = "simulator"
options = { seed = 5, behaviour = "hang" }

[[machines]]
id = "crash-06"
driver = "simulator"
options = { seed = 6, behaviour = "crash" }
`;

/** Final figures of a demo run. */
export interface DemoSummary {
  /** Poll attempts. */
  polls: number;
  /** Failed polls by cause. */
  failuresByCause: Record<string, number>;
  /** Breaker openings. */
  breakerTrips: number;
  /** Distinct records the agent buffered. */
  buffered: number;
  /** Distinct records stored by the ingest. */
  uploaded: number;
  /** Requests' records the ingest had already (dropped as duplicates). */
  duplicatesAtIngest: number;
  /** Records still in the buffer (queued, in flight, dead letters, dropped). */
  leftInBuffer: number;
  /** buffered - uploaded - leftInBuffer: 0 proves nothing was lost. */
  unaccounted: number;
  /** Seconds into the demo when the "ack lost" fault was injected at the ingest, or null if it was not. */
  ackLostAtS: number | null;
}

/** What the injected fault does, as the demo tells it. */
export const ACK_LOST_TEXT =
  'injected an "ack lost" fault at the ingest: it stores the next batch, then drops ' +
  "the connection before answering; the agent cannot know the batch arrived, sends it again, and the " +
  "ingest drops the copies by record id";

/** Builds the demo config for a data folder and an ingest url (validated like any machines.toml). */
export function demoConfig(dir: string, url: string): Config {
  const r = parseConfig(DEMO_TOML.replace("{url}", url), "demo.toml", join(dir, "demo.toml"));
  if (!r.ok) throw new Error(`embedded demo config is invalid: ${JSON.stringify(r.problems)}`);
  return r.config;
}

function render(
  agent: Agent,
  elapsedMs: number,
  totalMs: number,
  ingest: { received: number; unique: number; duplicates: number },
  tty: boolean,
  note: string | null,
): string {
  const machines = agent.machines();
  const behaviour = new Map(agent.config.machines.map((m) => [m.id, String(m.options.behaviour)]));
  const c = agent.counters;
  const failures = Object.entries(c.failuresByCause).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const stats = agent.buffer?.stats();
  const head =
    `demo ${Math.round(elapsedMs / 1000)}/${
      Math.round(totalMs / 1000)
    } s: ${c.polls} polls, failures: ${failures}, ` +
    `breaker trips ${c.breakerTrips}; buffered ${c.buffered - c.duplicates}, queued ${stats?.queued ?? 0}; ` +
    `ingest stored ${ingest.unique}, duplicates dropped ${ingest.duplicates}`;
  if (!tty) return head;
  const rows = machines.map((m) =>
    `  ${m.id.padEnd(10)} ${(behaviour.get(m.id) ?? "").padEnd(8)} ${m.state.padEnd(9)} polls ${
      String(m.polls_total).padStart(4)
    }  ` +
    `failures ${String(m.failures_total).padStart(3)}  ${
      m.last_error ? "last error: " + m.last_error.slice(0, 60) : ""
    }`
  );
  const notes = note ? ["", note] : [];
  return ["\x1b[H\x1b[2J" + "SIMCO Edge Agent demo (Ctrl-C to stop early)", "", head, "", ...rows, ...notes]
    .join(
      "\n",
    );
}

/** Runs the demo for `durationMs` (or until Ctrl-C) and returns its summary; prints a live view meanwhile. */
export async function runDemo(
  durationMs: number,
  out: (line: string) => void = console.log,
): Promise<DemoSummary> {
  const dir = await Deno.makeTempDir({ prefix: "simco-demo-" });
  const key = crypto.randomUUID();
  const ingest = await startIngest({ dbPath: join(dir, "ingest.db"), apiKey: key });
  Deno.env.set(DEMO_KEY_ENV, key);
  const config = demoConfig(dir, ingest.url);
  // Logs go to <dir>/data/logs/agent.log; the terminal shows the live view.
  await setupLogging({ level: "info", dataDir: config.agent.dataDir, console: false });
  const agent = new Agent(config);
  const stop = Promise.withResolvers<void>();
  const onSignal = () => stop.resolve();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
  signals.forEach((s) => Deno.addSignalListener(s, onSignal));
  const tty = Deno.stdout.isTerminal();
  const started = Date.now();
  try {
    await agent.start();
    let ackLostAtS: number | null = null;
    let note: string | null = null;
    const ackLostAt = setTimeout(() => {
      ingest.inject({ kind: "ack_lost", count: 1 });
      ackLostAtS = Math.round((Date.now() - started) / 1000);
      note = `at ${ackLostAtS} s: ${ACK_LOST_TEXT}`;
      if (!tty) out(`demo ${note}`);
    }, durationMs / 3);
    const ends = setTimeout(() => stop.resolve(), durationMs);
    let lastPlain = 0;
    const view = setInterval(() => {
      const now = Date.now();
      if (!tty && now - lastPlain < 5000) return;
      lastPlain = now;
      out(render(agent, now - started, durationMs, ingest.counts(), tty, note));
    }, 1000);
    await stop.promise;
    clearTimeout(ackLostAt);
    clearTimeout(ends);
    clearInterval(view);
    out("stopping: polling stopped, uploading what is left...");
    await agent.stopPolling();
    await agent.commitsSettled(10_000);
    const flushBy = Date.now() + 15_000;
    while (Date.now() < flushBy) {
      const s = agent.buffer!.stats();
      if (s.queued + s.in_flight === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const stats = agent.buffer!.stats();
    await agent.stop();
    const counts = ingest.counts();
    const buffered = agent.counters.buffered - agent.counters.duplicates;
    const leftInBuffer = stats.queued + stats.in_flight + stats.dead_letter + stats.dropped_total;
    return {
      polls: agent.counters.polls,
      failuresByCause: { ...agent.counters.failuresByCause },
      breakerTrips: agent.counters.breakerTrips,
      buffered,
      uploaded: counts.unique,
      duplicatesAtIngest: counts.duplicates,
      leftInBuffer,
      unaccounted: buffered - counts.unique - leftInBuffer,
      ackLostAtS,
    };
  } finally {
    signals.forEach((s) => Deno.removeSignalListener(s, onSignal));
    await agent.stop().catch(() => {});
    await ingest.close();
    await shutdownLogging();
    Deno.env.delete(DEMO_KEY_ENV);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const NEXT_STEPS: readonly [string, string][] = [
  ["simco-agent demo --duration 2m", "a longer run: breakers probe and reopen, more uploads"],
  ["simco-agent check --config examples/machines.toml", "every configuration key, with its default"],
  ["simco-agent run --config machines.toml", "your own machines (README: Running it)"],
  ["simco-agent status --config machines.toml", "from another terminal while run is active"],
];
const NEXT_WIDTH = Math.max(...NEXT_STEPS.map(([c]) => c.length)) + 3;

/** Formats the summary printed at the end of the demo: aligned figures, the fault injected, what to try next. */
export function formatSummary(s: DemoSummary): string {
  const failures = Object.values(s.failuresByCause).reduce((a, b) => a + b, 0);
  const causes = Object.entries(s.failuresByCause).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const dup = s.ackLostAtS === null
    ? `${s.duplicatesAtIngest}`
    : `${s.duplicatesAtIngest} (the "ack lost" fault injected at ${s.ackLostAtS} s: a stored batch sent again)`;
  const rows: [string, string][] = [
    ["polls", `${s.polls} (${s.polls - failures} ok, ${failures} failed: ${causes})`],
    ["breaker trips", `${s.breakerTrips}`],
    ["records buffered", `${s.buffered}`],
    ["records uploaded", `${s.uploaded}`],
    ["duplicates dropped (ingest)", dup],
    ["left in buffer", `${s.leftInBuffer}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return [
    "",
    "Demo summary",
    ...rows.map(([k, v]) => `  ${(k + ":").padEnd(width)}${v}`),
    s.unaccounted === 0
      ? "  0 records lost (buffered = uploaded + left in buffer)"
      : `  ${s.unaccounted} records unaccounted for (buffered ${s.buffered} != uploaded ${s.uploaded} + left ${s.leftInBuffer})`,
    "",
    "What to try next",
    ...NEXT_STEPS.map(([cmd, why]) => `  ${cmd.padEnd(NEXT_WIDTH)}${why}`),
  ].join("\n");
}
