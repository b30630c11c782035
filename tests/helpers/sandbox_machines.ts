/** Helpers for the sandbox tests: machine configurations, a log that records, waiting on conditions. */
import type { MachineConfig } from "../../src/config/types.ts";
import type { Log } from "../../src/log/mod.ts";
import type { DriverDescription } from "../../drivers/types.ts";
import { PROBE_DESCRIPTION } from "../drivers/sandbox_probe.ts";

/** URL of the test-only probe driver (tests/drivers/sandbox_probe.ts), for `driverModule`. */
export const PROBE_MODULE: string = new URL("../drivers/sandbox_probe.ts", import.meta.url).href;

/** MachineWorker options that load the probe driver instead of a registered one. */
export const PROBE: { driverModule: string; driverDescription: DriverDescription } = {
  driverModule: PROBE_MODULE,
  driverDescription: PROBE_DESCRIPTION,
};

/** A machine configuration with test-friendly defaults (simulator, 1 s timeout). */
export function machine(id: string, over: Partial<MachineConfig> = {}): MachineConfig {
  return {
    id,
    driver: "simulator",
    host: null,
    port: null,
    intervalMs: 1000,
    timeoutMs: 1000,
    maxBackoffMs: 60_000,
    breakerThreshold: 5,
    breakerCooldownMs: 60_000,
    availabilityAfter: 3,
    maxMemoryMb: 256,
    options: { seed: 1, behaviour: "healthy" },
    ...over,
  };
}

/** A Log that keeps every line (level and message) for assertions. */
export class MemoryLog implements Log {
  /** Recorded lines, `LEVEL message`. */
  readonly lines: string[] = [];
  /** Records a debug line. */
  debug(m: string): void {
    this.lines.push(`DEBUG ${m}`);
  }
  /** Records an info line. */
  info(m: string): void {
    this.lines.push(`INFO ${m}`);
  }
  /** Records a warning. */
  warn(m: string): void {
    this.lines.push(`WARN ${m}`);
  }
  /** Records an error. */
  error(m: string): void {
    this.lines.push(`ERROR ${m}`);
  }
  /** Records a critical line. */
  critical(m: string): void {
    this.lines.push(`CRITICAL ${m}`);
  }
  /** All lines joined, for assertStringIncludes. */
  text(): string {
    return this.lines.join("\n");
  }
}

/** Whether a process with this pid is still running (Linux: /proc; a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Waits until `cond()` is true, checking every 20 ms, or throws after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
