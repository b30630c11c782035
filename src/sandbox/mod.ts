/**
 * The driver sandbox: one isolated, capability-restricted worker process per machine.
 *
 * ```ts
 * const w = new MachineWorker(machine, { log });
 * const outcome = await w.poll(); // { kind: "ok", ts, metrics, durationMs } | { kind: "fail", cause, message, durationMs }
 * await w.close();
 * ```
 *
 * Layout: machine_worker.ts (policy: budgets, recycling, memory cap), process.ts (one child process: spawn,
 * request/reply, kill, reap), protocol.ts (the NDJSON messages and their validation; docs/worker-protocol.md),
 * worker_main.ts (the `__worker` process), driver_host.ts (the Web Worker hosting the driver),
 * permissions.ts (what a driver may touch), line_framing.ts (capped line framing), confine/ (OS confinement
 * of the worker processes: Landlock, seccomp, rlimits, uid drop; a Job object on Windows).
 * @module
 */
export {
  type FailureCause,
  machineWorkDir,
  MachineWorker,
  type MachineWorkerOptions,
  type PollOutcome,
  type WorkerStats,
} from "./machine_worker.ts";
export { MAX_LINE_BYTES, PROTOCOL_VERSION, type SandboxPermissions } from "./protocol.ts";
export { sandboxPermissions } from "./permissions.ts";
export { type ConfinementMode, Confiner, describePlan } from "./confine/mod.ts";
