/**
 * The worker process's side of confinement: called by worker_main.ts before anything else happens in the
 * worker (before the hello, before the driver's Web Worker exists). Without a plan in the environment
 * (confinement off, Windows, tests that spawn workers directly) it does nothing.
 */
import { confineLinux } from "./linux.ts";
import { EXIT_CONFINE, parsePlan, PLAN_ENV } from "./plan.ts";

/** Applies the plan the agent put in the environment, if any (see linux.ts). May exec or exit. */
export function confineThisWorker(): void {
  const text = Deno.env.get(PLAN_ENV);
  if (text === undefined || Deno.build.os !== "linux") return;
  try {
    confineLinux(parsePlan(text));
  } catch (e) {
    console.error(`confinement: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(EXIT_CONFINE);
  }
}
