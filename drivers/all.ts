/**
 * The static driver registry. `deno compile` bundles only what it can see, so drivers are imported here by
 * name; the agent never scans directories for them.
 */
import type { DriverDescription, DriverFactory } from "./types.ts";
import { SimulatorDriver } from "./simulator/mod.ts";

/** Every driver the agent ships, by the name used in `driver = "..."`. */
export const DRIVERS: Readonly<Record<string, DriverFactory>> = Object.freeze({
  simulator: () => new SimulatorDriver(),
});

/** Returns a driver's description, or undefined when no driver has that name. */
export function describeDriver(name: string): DriverDescription | undefined {
  const factory = Object.hasOwn(DRIVERS, name) ? DRIVERS[name] : undefined;
  return factory?.().describe();
}

/** Names of all registered drivers, sorted. */
export function driverNames(): string[] {
  return Object.keys(DRIVERS).sort();
}
