/**
 * The simulator's static description: what the registry (drivers/registry.ts) and the config parser know of it.
 * Pure data: no I/O and no import of driver code, so `check`, `run` and the agent process never execute the
 * driver itself (it runs only inside a machine's sandboxed worker).
 */
import type { DriverDescription } from "../types.ts";

/** Misbehaviours the simulator can be told to show. */
export const BEHAVIOURS = ["healthy", "flaky", "slow", "hang", "crash", "leak", "garbage"] as const;

/** One of {@link BEHAVIOURS}. */
export type Behaviour = (typeof BEHAVIOURS)[number];

/** Name, option schema and sample options of `driver = "simulator"`. */
export const SIMULATOR: DriverDescription = {
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
    misbehave_after: {
      type: "integer",
      min: 0,
      max: 1_000_000,
      default: 0,
      description: "polls a fresh worker answers normally before its behaviour starts",
    },
    fail_until: {
      type: "integer",
      min: 0,
      max: 8_640_000_000_000,
      default: 0,
      description:
        "every poll fails while the clock is before this epoch ms (an outage that ends, for tests)",
    },
    time_scale: {
      type: "number",
      min: 0.01,
      max: 10_000,
      default: 1,
      description: "simulated seconds per real second (e.g. 20 for a lively demo)",
    },
  },
  sampleOptions: { seed: 42, behaviour: "healthy" },
};
