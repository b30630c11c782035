/**
 * Test-only driver with an npm dependency of its own (smol-toml, locked in deno.lock), imported by nothing
 * but this driver: it must still load in a worker that runs with --cached-only, because the agent caches the
 * driver's graph before starting its worker (src/sandbox/module_cache.ts). Loaded through `driverModule`.
 */
import { parse } from "smol-toml";
import type { Driver } from "../../drivers/types.ts";
import type { Metrics } from "../../src/record/mod.ts";

/** Its description, for `MachineWorkerOptions.driverDescription`. */
export const NPM_DEP_DESCRIPTION = {
  name: "__npm_dep",
  summary: "test driver with an npm dependency",
  network: false,
  options: {},
  sampleOptions: {},
};

/** Factory used by the sandbox's driver host. */
export function createDriver(): Driver {
  return {
    init: () => Promise.resolve(),
    poll: (): Promise<Metrics> => Promise.resolve({ parsed: Number(parse("answer = 42").answer) }),
  };
}
