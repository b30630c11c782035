/**
 * The human `status` table: what a person checking a shop-floor PC needs at a glance (running or not, STALE,
 * uptime, version, buffer, uplink, one row per machine with its worker restarts), times in UTC with the local
 * time beside them, durations in human units.
 */
import { formatElapsed as formatDuration, plural } from "../util/human.ts";
import { describePlan } from "../sandbox/confine/plan.ts";
import type { StatusJson } from "./status.ts";

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** `2026-12-01 10:08:30Z` (UTC), or "-". */
export function utc(ts: number | null): string {
  return ts === null ? "-" : new Date(ts).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

/** Local wall-clock time `10:08:30` of `ts` (the date too when it is not today). */
export function local(ts: number, now: number): string {
  const d = new Date(ts);
  const n = new Date(now);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const sameDay = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() &&
    d.getDate() === n.getDate();
  return sameDay ? time : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${time}`;
}

/** UTC with local time beside it: `2026-12-01 10:08:30Z (11:08:30 local)`. */
export function when(ts: number | null, now: number): string {
  return ts === null ? "-" : `${utc(ts)} (${local(ts, now)} local)`;
}

/** Short form for table cells: time ago. */
function ago(ts: number | null, now: number): string {
  if (ts === null) return "-";
  const d = now - ts;
  return d >= 0 ? `${formatDuration(d)} ago` : `in ${formatDuration(-d)}`;
}

function restarts(r: Record<string, number>): string {
  const parts = Object.entries(r).filter(([, n]) => n > 0).map(([c, n]) => `${n} ${c}`);
  return parts.length ? parts.join(", ") : "0";
}

/** The human table printed by `status` without `--json`. */
export function formatStatus(s: StatusJson, now: number): string {
  if (!s.data_dir_exists) {
    return `agent ${s.agent_id}: not running; data dir ${s.data_dir} does not exist ` +
      `(no agent has run with this configuration yet, or data_dir points elsewhere)`;
  }
  const header = [
    "MACHINE",
    "DRIVER",
    "STATE",
    "FAILS",
    "POLLS",
    "RESTARTS",
    "LAST OK",
    "NEXT",
    "LAST ERROR",
  ];
  const rows = s.machines.map((m) => [
    m.id,
    m.driver,
    m.state,
    String(m.consecutive_failures),
    String(m.polls_total),
    restarts(m.worker_restarts),
    ago(m.last_success_ts, now),
    ago(m.next_attempt_ts, now),
    m.last_error ?? "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  // Confinement is usually the same for every machine: one line per distinct setting, naming its machines.
  const confinement = new Map<string, string[]>();
  for (const m of s.machines) {
    if (!m.confinement) continue;
    const text = describePlan(m.confinement);
    confinement.set(text, [...confinement.get(text) ?? [], m.id]);
  }
  const confinementLines = [...confinement].map(([text, ids]) =>
    `confinement ${text}${confinement.size > 1 ? ` (${ids.join(", ")})` : ""}`
  );
  const b = s.buffer;
  let head: string;
  if (!s.running) {
    head = `agent ${s.agent_id}: not running` +
      (s.updated_at ? `; last status ${when(s.updated_at, now)}` : "");
  } else {
    const what = s.command && s.command !== "run" ? `${s.command} running` : "running";
    head = `agent ${s.agent_id}: ${what} (pid ${s.pid}, version ${s.version ?? "?"}` +
      (s.started_at ? `, up ${formatDuration(now - s.started_at)} since ${when(s.started_at, now)}` : "") +
      ")";
    if (s.stale) {
      head += `\nSTALE: status last written ${ago(s.updated_at, now)} (${utc(s.updated_at)}); the agent is ` +
        `alive but not updating (stopped with SIGSTOP, hung, or its disk refuses writes); figures below are old`;
    }
  }
  return [
    head,
    `buffer: ${b.queued} queued, ${b.in_flight} in flight, ${plural(b.dead_letter, "dead letter")}, ` +
    `${b.dropped_total} dropped, oldest ${when(b.oldest_queued_ts, now)}, ${
      (b.file_bytes / 1048576).toFixed(1)
    } MiB`,
    s.uplink.state === "none"
      ? "uplink: none (offline; use export)"
      : `uplink: ${s.uplink.state}, ${s.uplink.sent_total} sent, last ok ${
        when(s.uplink.last_success_ts, now)
      }` +
        (s.uplink.last_error ? `, last error: ${s.uplink.last_error}` : ""),
    ...confinementLines,
    "",
    fmt(header),
    ...rows.map(fmt),
    ...s.machines.filter((m) => m.driver_status && Object.keys(m.driver_status).length).map((m) =>
      `${m.id} driver: ` +
      Object.entries(m.driver_status!).map(([k, v]) => `${k}=${v === null ? "-" : String(v)}`).join(", ")
    ),
  ].join("\n");
}
