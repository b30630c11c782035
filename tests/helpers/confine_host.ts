/**
 * A stand-in agent for the confinement tests: one MachineWorker with the escape probe driver
 * (tests/drivers/escape_probe.ts) under the given confinement mode. It polls once, prints
 * `{outcome, pid, log}` as one JSON line on stdout, then keeps running (so the test can check it is unharmed)
 * until its stdin closes, closes the worker and exits 0. Being its own process, it is the worker's parent: the
 * driver's attempts to read its environment or kill it aim at this process, not at the test runner.
 *
 * Run: deno run -A --unstable-worker-options tests/helpers/confine_host.ts '{"mode":..., "dataDir":..., ...}'
 */
import { type ConfinementMode, Confiner } from "../../src/sandbox/confine/mod.ts";
import { machineWorkDir, MachineWorker } from "../../src/sandbox/mod.ts";
import { readLines } from "../../src/sandbox/line_framing.ts";
import { machine } from "./sandbox_machines.ts";
import { RecordingLog } from "./log.ts";
import { ESCAPE_DESCRIPTION } from "../drivers/escape_probe.ts";

/** What the test passes as the only argument (JSON). */
export interface ConfineHostArgs {
  mode: ConfinementMode;
  dataDir: string;
  port: number;
  options: Record<string, unknown>;
  /** Poll timeout; when set, the host reports as soon as the worker runs instead of waiting for the poll. */
  timeoutMs?: number;
  /** Confiner test hook: launch through the worker command itself, as the compiled binary does. */
  selfLaunch?: boolean;
}

/** URL of the escape probe driver. */
export const ESCAPE_MODULE: string = new URL("../drivers/escape_probe.ts", import.meta.url).href;

if (import.meta.main) {
  const a = JSON.parse(Deno.args[0]) as ConfineHostArgs;
  const log = new RecordingLog();
  const confiner = new Confiner({
    mode: a.mode,
    workerUser: "nobody",
    dataDir: a.dataDir,
    log,
    selfLaunch: a.selfLaunch,
  });
  const m = machine("escape", {
    driver: "__escape_probe",
    host: "127.0.0.1",
    port: a.port,
    options: a.options,
    timeoutMs: a.timeoutMs ?? 10_000,
  });
  confiner.logPlans([m]);
  const w = new MachineWorker(m, {
    log,
    driverModule: ESCAPE_MODULE,
    driverDescription: ESCAPE_DESCRIPTION,
    confiner,
    workDir: machineWorkDir(a.dataDir, m.id),
    startTimeoutMs: 20_000,
  });
  let settled = false;
  const polled = w.poll().finally(() => settled = true);
  // A hanging driver never answers: report the pid as soon as the worker runs.
  while (w.pid === null && !settled) await new Promise((r) => setTimeout(r, 10));
  const outcome = a.timeoutMs === undefined ? await polled : null;
  console.log(JSON.stringify({ outcome, pid: w.pid, log: log.lines }));
  for await (const _ of readLines(Deno.stdin.readable, 4096)) { /* any input is ignored; EOF ends */ }
  await w.close();
  Deno.exit(0);
}
