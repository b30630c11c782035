/** Helpers for the sandbox tests: machine configurations and the probe driver. */
import type { MachineConfig } from "../../src/config/types.ts";
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
    maxCpuPercent: 50,
    options: { seed: 1, behaviour: "healthy" },
    ...over,
  };
}
