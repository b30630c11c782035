/**
 * The periodic summary log line (`[agent] summary_interval`, default 5 min) and the startup line: what a
 * person reading agent.log a week later needs without adding up hundreds of lines. Pure: figures in, text out.
 */
import { formatElapsed, plural } from "../util/human.ts";

/** The agent's running totals at one moment. */
export interface SummaryFigures {
  /** Epoch ms. */
  readonly at: number;
  /** Polls attempted by this run. */
  readonly polls: number;
  /** Failed polls by this run. */
  readonly failures: number;
  /** New records buffered by this run (duplicates excluded). */
  readonly buffered: number;
  /** Records acknowledged by the cloud, lifetime. */
  readonly sent: number;
  /** Records queued now. */
  readonly queued: number;
  /** Epoch ms of the oldest queued record, or null. */
  readonly oldestQueuedTs: number | null;
  /** Dead letters now. */
  readonly deadLetters: number;
  /** Records dropped by the cap, lifetime. */
  readonly dropped: number;
}

/** `summary (last 5m): 1500 polls, 3 failed; 1497 records buffered, 1490 sent; backlog 7 (oldest 2s)`. */
export function summaryLine(prev: SummaryFigures, now: SummaryFigures): string {
  const failed = now.failures - prev.failures;
  const dropped = now.dropped - prev.dropped;
  const backlog = now.queued === 0 ? "backlog empty" : `backlog ${plural(now.queued, "record")}` +
    (now.oldestQueuedTs === null ? "" : ` (oldest ${formatElapsed(now.at - now.oldestQueuedTs)})`);
  return [
    `summary (last ${formatElapsed(now.at - prev.at)}): ${
      plural(now.polls - prev.polls, "poll")
    }, ${failed} failed`,
    `${plural(now.buffered - prev.buffered, "record")} buffered, ${now.sent - prev.sent} sent`,
    backlog + (now.deadLetters ? `, ${plural(now.deadLetters, "dead letter")}` : "") +
    (dropped ? `, ${dropped} dropped by the cap` : ""),
  ].join("; ");
}

/** What the startup line says. */
export interface StartupFacts {
  readonly version: string;
  readonly agentId: string;
  readonly configFile: string;
  readonly machines: number;
  readonly dataDir: string;
  readonly queued: number;
  readonly oldestQueuedTs: number | null;
  readonly deadLetters: number;
  readonly now: number;
  /** Extra facts (e.g. `confinement ...`), each a short phrase. */
  readonly extra?: readonly string[];
}

/** `simco-agent 0.1.0 started: agent plant1, config /etc/simco/machines.toml, 3 machines, ...`. */
export function startupLine(f: StartupFacts): string {
  const buffer = f.queued === 0 ? "buffer empty" : `buffer ${plural(f.queued, "record")} queued` +
    (f.oldestQueuedTs === null ? "" : ` (oldest ${formatElapsed(f.now - f.oldestQueuedTs)})`);
  return [
    `simco-agent ${f.version} started: agent ${f.agentId}`,
    `config ${f.configFile}`,
    plural(f.machines, "machine"),
    `data dir ${f.dataDir}`,
    buffer + (f.deadLetters ? `, ${plural(f.deadLetters, "dead letter")}` : ""),
    ...(f.extra ?? []),
  ].join(", ");
}
