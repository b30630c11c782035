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

/**
 * Two TCP servers on 127.0.0.1 that accept and close: the machine's own port (which a driver may reach) and
 * another one (which it must not), each counting the connections it accepted.
 */
export interface TwoPorts {
  /** The machine's own port. */
  readonly ownPort: number;
  /** A port the driver was not given. */
  readonly otherPort: number;
  /** Connections accepted so far, per server. */
  readonly accepted: { own: number; other: number };
  /** Closes both servers. */
  close(): Promise<void>;
}

/** Starts the two servers of {@link TwoPorts}. */
export function twoPorts(): TwoPorts {
  const own = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = { own: 0, other: 0 };
  const serve = async (l: Deno.Listener, key: "own" | "other") => {
    for await (const c of l) {
      accepted[key]++;
      c.close();
    }
  };
  const servers = [serve(own, "own"), serve(other, "other")];
  return {
    ownPort: (own.addr as Deno.NetAddr).port,
    otherPort: (other.addr as Deno.NetAddr).port,
    accepted,
    close: async () => {
      own.close();
      other.close();
      await Promise.all(servers);
    },
  };
}
