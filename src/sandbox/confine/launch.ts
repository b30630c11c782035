/**
 * The launcher step of a confined worker when running from source (`deno run --no-config launch.ts`): a
 * module that loads nothing but the confinement code, so the extra process image costs one bare Deno start
 * (~20 ms) instead of a full worker start. It applies the plan from the environment and execs the real
 * worker command line (see linux.ts). The compiled binary has no such file: there the binary itself, started
 * as a worker, does the same first thing in worker_main.ts.
 */
import { EXIT_CONFINE, PLAN_ENV } from "./plan.ts";
import { confineThisWorker } from "./worker.ts";

if (import.meta.main) {
  if (Deno.env.get(PLAN_ENV) === undefined) {
    console.error(`confinement launcher: ${PLAN_ENV} is not set (expected the agent's plan)`);
    Deno.exit(EXIT_CONFINE);
  }
  confineThisWorker();
}
