/**
 * Prometheus metrics of a running agent, with prom-client (the standard client) rather than a hand-written
 * format. Every figure except the poll-duration histogram is read from the agent when scraped (the same
 * figures `status --json` shows), so the two never disagree by construction; lifetime counters start from the
 * persisted totals, so `simco_polls_total` summed over results equals `polls_total` of `status --json`.
 *
 * Lives in the agent process only: workers never import it (the worker graph imports no engine code).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { VERSION } from "../version.ts";
import type { Agent } from "./agent.ts";
import { MACHINE_STATES } from "./supervisor.ts";

const UPLINK_STATES = ["idle", "ok", "backoff", "auth_error", "config_error"];

type Labels = Record<string, string>;
/** Fills one family at scrape time through `put(value, labels)`. */
type Fill = (put: (value: number, labels?: Labels) => void) => void;

/** Builds the registry for `agent` (call after agent.start()). */
export function agentRegistry(agent: Agent): Registry {
  const registry = new Registry();
  const registers = [registry];
  const family = (
    kind: "counter" | "gauge",
    name: string,
    help: string,
    labelNames: string[],
    fill: Fill,
  ) => {
    const opts = { name, help, labelNames, registers };
    if (kind === "counter") {
      new Counter({
        ...opts,
        collect: function () {
          this.reset();
          fill((v, l = {}) => this.inc(l, v));
        },
      });
    } else {
      new Gauge({
        ...opts,
        collect: function () {
          this.reset();
          fill((v, l = {}) => this.set(l, v));
        },
      });
    }
  };
  const counter = (name: string, help: string, labelNames: string[], fill: Fill) =>
    family("counter", name, help, labelNames, fill);
  const gauge = (name: string, help: string, labelNames: string[], fill: Fill) =>
    family("gauge", name, help, labelNames, fill);
  const machines = () => agent.machines();
  const buffer = () => agent.buffer?.stats() ?? null;

  counter("simco_polls_total", "Polls by machine and result (ok, or the failure cause), over all runs.", [
    "machine",
    "result",
  ], (put) => {
    for (const m of machines()) {
      put(m.polls_total - m.failures_total, { machine: m.id, result: "ok" });
      let known = 0;
      for (const [cause, n] of Object.entries(m.failures_by_cause)) {
        put(n, { machine: m.id, result: cause });
        known += n;
      }
      // Failures counted by a version that kept no causes.
      if (m.failures_total > known) put(m.failures_total - known, { machine: m.id, result: "failure" });
    }
  });
  const durations = new Histogram({
    name: "simco_poll_duration_seconds",
    help: "Duration of polls (including a worker start) since this run started.",
    labelNames: ["machine"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  agent.onPoll((machine, outcome) => durations.observe({ machine }, outcome.durationMs / 1000));
  gauge(
    "simco_machine_state",
    "1 for the machine's current state, 0 for the others.",
    ["machine", "state"],
    (put) => {
      for (const m of machines()) {
        for (const s of MACHINE_STATES) {
          put(m.state === s ? 1 : 0, { machine: m.id, state: s });
        }
      }
    },
  );
  counter("simco_worker_restarts_total", "Worker processes recycled, by machine and cause, over all runs.", [
    "machine",
    "cause",
  ], (put) => {
    for (const m of machines()) {
      for (const [cause, n] of Object.entries(m.worker_restarts)) put(n, { machine: m.id, cause });
    }
  });
  gauge("simco_worker_memory_bytes", "Resident memory of each machine's worker, as it last reported.", [
    "machine",
  ], (put) => {
    for (const m of machines()) {
      if (m.worker_memory_bytes !== null) put(m.worker_memory_bytes, { machine: m.id });
    }
  });
  gauge("simco_buffer_records", "Records in the buffer by state.", ["state"], (put) => {
    const b = buffer();
    if (!b) return;
    put(b.queued, { state: "queued" });
    put(b.in_flight, { state: "in_flight" });
    put(b.dead_letter, { state: "dead_letter" });
    put(b.pending, { state: "pending_commit" });
  });
  gauge("simco_buffer_bytes", "Size of buffer.db and its WAL.", [], (put) => put(buffer()?.file_bytes ?? 0));
  gauge(
    "simco_buffer_oldest_record_age_seconds",
    "Age of the oldest queued record (0 when none).",
    [],
    (put) => {
      const ts = buffer()?.oldest_queued_ts ?? null;
      put(ts === null ? 0 : Math.max(0, (Date.now() - ts) / 1000));
    },
  );
  counter(
    "simco_buffer_dropped_total",
    "Records dropped by buffer.when_full = drop_oldest, ever.",
    [],
    (put) => {
      put(buffer()?.dropped_total ?? 0);
    },
  );
  gauge("simco_dead_letters", "Records the cloud rejected, kept as dead letters.", [], (put) => {
    put(buffer()?.dead_letter ?? 0);
  });
  counter(
    "simco_uplink_records_sent_total",
    "Records acknowledged by the cloud, over all runs and commands.",
    [],
    (
      put,
    ) => put(agent.uplinkStatus().sent_total),
  );
  counter(
    "simco_uplink_requests_total",
    "Upload requests since this run started, by outcome.",
    ["outcome"],
    (put) => {
      for (const [outcome, n] of Object.entries(agent.uploader?.status().requests ?? {})) put(n, { outcome });
    },
  );
  gauge("simco_uplink_state", "1 for the uplink's current state, 0 for the others.", ["state"], (put) => {
    const now = agent.uplinkStatus().state;
    for (const s of UPLINK_STATES) put(s === now ? 1 : 0, { state: s });
  });
  gauge("simco_build_info", "Always 1; the agent's version as a label.", ["version"], (put) => {
    put(1, { version: VERSION });
  });
  return registry;
}
