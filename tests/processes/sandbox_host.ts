/**
 * A stand-in agent for the SIGKILL test: starts MachineWorkers (one healthy and polled, one stuck in a hung
 * poll, one whose driver module never finishes loading), prints their worker pids as one JSON line on
 * stdout, then waits to be killed.
 * Run: deno run -A --unstable-worker-options tests/processes/sandbox_host.ts
 */
import { MachineWorker } from "../../src/sandbox/mod.ts";
import { machine } from "../helpers/sandbox_machines.ts";
import { RecordingLog } from "../helpers/log.ts";

const STUCK_MODULE = new URL("../drivers/sandbox_stuck_load.ts", import.meta.url).href;

const log = new RecordingLog();
const healthy = new MachineWorker(machine("host-ok"), { log });
const hung = new MachineWorker(machine("host-hang", { timeoutMs: 600_000, options: { behaviour: "hang" } }), {
  log,
});
const stuck = new MachineWorker(machine("host-stuck", { timeoutMs: 600_000 }), {
  log,
  driverModule: STUCK_MODULE,
  // Given, so this process does not import the module (its top level never returns).
  driverDescription: { name: "stuck", summary: "", network: false, options: {}, sampleOptions: {} },
});
const first = await healthy.poll();
if (first.kind !== "ok") throw new Error(`healthy poll failed: ${first.message}`);
void hung.poll();
void stuck.poll();
while (hung.pid === null || stuck.pid === null) await new Promise((r) => setTimeout(r, 10));
// Give the hung workers time to enter their busy loops.
await new Promise((r) => setTimeout(r, 500));
console.log(JSON.stringify({ pids: [healthy.pid, hung.pid, stuck.pid] }));
setInterval(() => {}, 60_000);
