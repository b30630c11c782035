/**
 * The static driver registry, as data: each driver's description (name, option schema, network and library
 * flags, default port) and the URL of its module. This file does no I/O and imports no driver code: the config
 * parser, `check`, `run` and the agent process read descriptions only, and a driver's module is imported by
 * nothing but the sandboxed Web Worker of a machine that uses it (src/sandbox/worker_main.ts builds that Web
 * Worker's entry from `module`).
 *
 * `deno compile` embeds the driver modules through `--include drivers/` (deno.json task `compile`), since
 * nothing imports them statically.
 */
import type { DriverDescription } from "./types.ts";
import { FOCAS } from "./focas/description.ts";
import { SIMULATOR } from "./simulator/description.ts";
import { MTCONNECT } from "./mtconnect/description.ts";

/** One registered driver. */
export interface DriverEntry {
  /** What the driver says about itself; pure data. */
  readonly description: DriverDescription;
  /** URL of the module exporting `createDriver(): Driver`, imported only inside the machine's worker. */
  readonly module: string;
}

const entry = (description: DriverDescription, module: string): DriverEntry =>
  Object.freeze({ description, module: new URL(module, import.meta.url).href });

/** Every driver the agent ships, by the name used in `driver = "..."`. */
export const REGISTRY: Readonly<Record<string, DriverEntry>> = Object.freeze({
  focas: entry(FOCAS, "./focas/mod.ts"),
  simulator: entry(SIMULATOR, "./simulator/mod.ts"),
  mtconnect: entry(MTCONNECT, "./mtconnect/mod.ts"),
});

/** The registry entry of a driver, or undefined when no driver has that name. */
export function driverEntry(name: string): DriverEntry | undefined {
  return Object.hasOwn(REGISTRY, name) ? REGISTRY[name] : undefined;
}

/** Returns a driver's description, or undefined when no driver has that name. */
export function describeDriver(name: string): DriverDescription | undefined {
  return driverEntry(name)?.description;
}

/** Names of all registered drivers, sorted. */
export function driverNames(): string[] {
  return Object.keys(REGISTRY).sort();
}
