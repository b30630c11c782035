/**
 * Simulator driver: realistic CNC telemetry from a seed, and configurable misbehaviour for tests and the demo.
 * See README.md beside this file.
 */
import type { Metrics } from "../../src/record/mod.ts";
import type { Driver, DriverContext, DriverDescription } from "../types.ts";

/** Misbehaviours the simulator can be told to show. */
export const BEHAVIOURS = ["healthy", "flaky", "slow", "hang", "crash", "leak", "garbage"] as const;

const DESCRIPTION: DriverDescription = {
  name: "simulator",
  summary: "Simulated CNC machine (no hardware): realistic cycles, alarms and e-stops from a seed",
  network: false,
  options: {
    seed: {
      type: "integer",
      min: 0,
      max: 2 ** 31 - 1,
      default: 1,
      description: "random seed; same seed, same telemetry",
    },
    behaviour: {
      type: "enum",
      values: BEHAVIOURS,
      default: "healthy",
      description: "healthy | flaky | slow | hang | crash | leak | garbage",
    },
    fail_rate: {
      type: "number",
      min: 0,
      max: 1,
      default: 0.3,
      description: "flaky: share of polls that fail",
    },
    delay: { type: "duration", default: "2s", description: "slow: how long each poll takes" },
    leak_mb: { type: "number", min: 0, max: 1024, default: 8, description: "leak: MiB retained per poll" },
  },
  sampleOptions: { seed: 42, behaviour: "healthy" },
};

/** The simulator driver. */
export class SimulatorDriver implements Driver {
  #options: Readonly<Record<string, unknown>> = {};
  #ctx: DriverContext | null = null;

  /** Static description. */
  describe(): DriverDescription {
    return DESCRIPTION;
  }

  /** Stores options; the simulator has nothing to connect to. */
  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void> {
    this.#options = options;
    this.#ctx = ctx;
    return Promise.resolve();
  }

  /** Returns one reading. */
  poll(): Promise<Metrics> {
    return Promise.resolve({
      availability: "AVAILABLE",
      execution: "READY",
      seed: Number(this.#options.seed ?? 1),
    });
  }
}
