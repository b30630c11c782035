/**
 * A stand-in agent for the SIGKILL test: starts MachineWorkers (one healthy and polled, one stuck in a hung
 * poll), prints their worker pids as one JSON line on stdout, then waits to be killed.
 * Run: deno run -A --unstable-worker-options tests/helpers/sandbox_host.ts
 */
import { MachineWorker } from "../../src/sandbox/mod.ts";
import { machine, MemoryLog } from "./sandbox_machines.ts";

const log = new MemoryLog();
const healthy = new MachineWorker(machine("host-ok"), { log });
const hung = new MachineWorker(machine("host-hang", { timeoutMs: 600_000, options: { behaviour: "hang" } }), {
  log,
});
const first = await healthy.poll();
if (first.kind !== "ok") throw new Error(`healthy poll failed: ${first.message}`);
void hung.poll();
while (hung.pid === null) await new Promise((r) => setTimeout(r, 10));
// Give the hung worker time to enter its busy loop.
await new Promise((r) => setTimeout(r, 300));
console.log(JSON.stringify({ pids: [healthy.pid, hung.pid] }));
setInterval(() => {}, 60_000);
