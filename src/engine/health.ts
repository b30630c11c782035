/**
 * `GET /health`: is this agent doing its job? Pure: the agent's figures in, a verdict with reasons out.
 *
 * Unhealthy (503) when the buffer cannot write (disk full, read-only, I/O errors), the uplink is refused by
 * the cloud (auth_error, config_error: nothing will get through until a person acts), every machine is
 * CRITICAL (nothing is being polled), or the status document has not been written for a while (the agent is
 * hung, or its data dir refuses writes). A machine in backoff or an uplink retrying a 5xx is a normal bad
 * day, not a reason to restart the agent, so it stays 200.
 */

/** What {@link healthOf} looks at. */
export interface HealthInput {
  /** The buffer's current storage error, or null while it writes. */
  readonly bufferStorageError: string | null;
  /** Uplink state (idle, ok, backoff, auth_error, config_error) and its last error. */
  readonly uplinkState: string;
  readonly uplinkLastError: string | null;
  /** Every machine's state. */
  readonly machineStates: readonly string[];
  /** Epoch ms of the last status.json written, or null (not yet). */
  readonly statusWrittenAt: number | null;
  /** Whether the last status.json write failed. */
  readonly statusFailing: boolean;
  /** Age past which the status document counts as stale (ms). */
  readonly staleAfterMs: number;
  /** Now (epoch ms). */
  readonly now: number;
}

/** The `/health` body. */
export interface Health {
  /** "ok" (HTTP 200) or "unhealthy" (HTTP 503). */
  readonly status: "ok" | "unhealthy";
  /** Why it is unhealthy, one line each (empty when ok). */
  readonly reasons: string[];
}

/** The verdict (pure). */
export function healthOf(h: HealthInput): Health {
  const reasons: string[] = [];
  if (h.bufferStorageError !== null) reasons.push(`buffer unwritable: ${h.bufferStorageError}`);
  if (h.uplinkState === "auth_error" || h.uplinkState === "config_error") {
    reasons.push(`uplink ${h.uplinkState}${h.uplinkLastError ? `: ${h.uplinkLastError}` : ""}`);
  }
  if (h.machineStates.length > 0 && h.machineStates.every((s) => s === "CRITICAL")) {
    reasons.push(
      h.machineStates.length === 1
        ? "the only machine is CRITICAL"
        : `all ${h.machineStates.length} machines CRITICAL`,
    );
  }
  if (h.statusFailing) reasons.push("status stale: status.json cannot be written");
  else if (h.statusWrittenAt !== null && h.now - h.statusWrittenAt > h.staleAfterMs) {
    reasons.push(
      `status stale: status.json last written ${Math.round((h.now - h.statusWrittenAt) / 1000)}s ago`,
    );
  }
  return { status: reasons.length ? "unhealthy" : "ok", reasons };
}

/** Whether a listen address only accepts connections from this host. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
