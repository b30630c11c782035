/**
 * `deno task bench [suite...]`: runs the benchmark suites and prints their figures. Speed and memory are
 * measured here, never in timed tests. Each suite is a module exporting `run(): Promise<void>`.
 */

import { bufferSuite } from "./buffer_bench.ts";
import { driversSuite } from "./drivers_bench.ts";
import { sandboxSuite } from "./sandbox_bench.ts";
import { uplinkSuite } from "./uplink_bench.ts";
import { mtconnectSuite } from "./mtconnect_bench.ts";

/** A benchmark suite: a name and a function that prints its figures. */
export interface Suite {
  /** Name used on the command line. */
  readonly name: string;
  /** Runs the suite and prints its results. */
  run(): Promise<void>;
}

/** Every suite, in the order they run. */
export const SUITES: Suite[] = [bufferSuite, uplinkSuite, sandboxSuite, driversSuite, mtconnectSuite];

if (import.meta.main) {
  const wanted = Deno.args;
  const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
  if (unknown.length) {
    console.error(
      `bench: unknown suite ${unknown.join(", ")} (expected: ${SUITES.map((s) => s.name).join(", ")})`,
    );
    Deno.exit(2);
  }
  for (const s of SUITES) {
    if (wanted.length && !wanted.includes(s.name)) continue;
    console.log(`\n== ${s.name} ==`);
    await s.run();
  }
}
