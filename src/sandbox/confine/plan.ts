/**
 * What to confine a worker with, decided in the agent before the spawn: a pure function of the configured
 * mode, what the kernel offers (probed once, see mod.ts), the worker user and the machine. The result is
 * the list of protections (for the log and `status`), and for Linux the plan the worker's launcher step
 * applies (passed in the environment, JSON; see linux.ts). The agent probes instead of the worker reporting,
 * so the list is known before the process starts and a driver cannot forge it.
 */
import { landlockGaps } from "./landlock.ts";

/** `[agent] confinement`. */
export type ConfinementMode = "strict" | "best_effort" | "off";

/** Names of the protections, as the log and `status --json` show them. */
export type Protection =
  | "no_new_privs"
  | "uid_drop"
  | "capabilities_dropped"
  | "rlimits"
  | "landlock_fs"
  | "landlock_tcp"
  | "landlock_scope"
  | "seccomp"
  | "parent_death_signal"
  | "job_object"
  | "clean_environment";

/** What the kernel / platform offers, probed once per agent. */
export interface HostFacts {
  readonly os: "linux" | "windows" | "other";
  /** Landlock ABI (0: none). */
  readonly landlockAbi: number;
  readonly seccomp: boolean;
  /** Effective uid of the agent (null on Windows). */
  readonly euid: number | null;
  /** The worker user, resolved, or why it cannot be used (null when the agent is not root). */
  readonly workerUser: { name: string; uid: number; gid: number } | { name: string; problem: string } | null;
}

/** The environment variable carrying the plan to the worker. */
export const PLAN_ENV = "SIMCO_CONFINE";

/** Exit code of a worker that could not apply a strict plan. */
export const EXIT_CONFINE = 78;

/** What the Linux launcher applies (JSON in {@link PLAN_ENV}). */
export interface LinuxPlan {
  readonly v: 1;
  /** `launch`: the first image applies and execs; `exec`: the exec'd image installs seccomp and runs. */
  readonly stage: "launch" | "exec";
  readonly strict: boolean;
  /** The agent's pid: the worker exits if its parent is not that process. */
  readonly agentPid: number;
  /** The command line to execve (the worker's own). */
  readonly argv: readonly string[];
  /** uid/gid to switch to (the agent is root), or null to keep them. */
  readonly uid: number | null;
  readonly gid: number | null;
  /** Drop every capability, and the bounding set (the agent is root). */
  readonly dropCaps: boolean;
  /** RLIMIT_CORE, RLIMIT_DATA (bytes, null: unlimited), RLIMIT_NOFILE. */
  readonly rlimits: { readonly core: number; readonly data: number | null; readonly nofile: number };
  /** Landlock ABI to use and the rules (null: no Landlock). `/proc/self` in `read` means `/proc/<own pid>`. */
  readonly landlock: {
    readonly abi: number;
    readonly read: readonly string[];
    readonly write: readonly string[];
    readonly connectPorts: readonly number[];
  } | null;
  readonly seccomp: boolean;
}

/** The decision for one machine. */
export interface MachinePlan {
  readonly mode: ConfinementMode;
  readonly active: readonly Protection[];
  /** What is not enforced, each with why (one line each). */
  readonly missing: readonly string[];
  /** Set in strict mode when something is missing: the worker must not start. */
  readonly refuse: string | null;
  readonly linux: LinuxPlan | null;
}

/** What {@link planMachine} needs to know about the machine and the runtime. */
export interface PlanInput {
  readonly mode: ConfinementMode;
  readonly facts: HostFacts;
  readonly machineId: string;
  readonly agentPid: number;
  readonly argv: readonly string[];
  /** Read-only grants (runtime, modules, library, system folders). */
  readonly read: readonly string[];
  /** The machine's scratch folder. */
  readonly scratch: string;
  /** TCP port of a network driver, else null. */
  readonly port: number | null;
  readonly maxMemoryMb: number;
}

/**
 * Address-space headroom of a worker besides the driver's own memory (MiB): a fresh worker's RLIMIT_DATA
 * accounting (private writable mappings: V8 heaps and code space of two isolates, thread stacks, malloc
 * arenas) measured at ~0.6-0.9 GiB; see docs/worker-protocol.md.
 */
export const DATA_MARGIN_MB = 2048;

/** Descriptor cap: the runtime needs a few dozen, a driver a handful of sockets. */
export const NOFILE = 1024;

/** Decides one machine's confinement. Pure. */
export function planMachine(i: PlanInput): MachinePlan {
  if (i.mode === "off") return { mode: "off", active: [], missing: [], refuse: null, linux: null };
  const active: Protection[] = [];
  const missing: string[] = [];
  const f = i.facts;
  if (f.os === "windows") {
    active.push("job_object", "clean_environment");
    return finish(i, active, missing, null);
  }
  if (f.os !== "linux") {
    missing.push(`OS confinement: none on ${f.os} (Linux and Windows only)`);
    return finish(i, active, missing, null);
  }
  active.push("no_new_privs", "rlimits", "parent_death_signal");
  let uid: number | null = null;
  let gid: number | null = null;
  const root = f.euid === 0;
  if (root && f.workerUser) {
    if ("problem" in f.workerUser) {
      missing.push(
        `uid drop: ${f.workerUser.problem}; the worker keeps uid 0 (capabilities are still dropped)`,
      );
    } else {
      uid = f.workerUser.uid;
      gid = f.workerUser.gid;
      active.push("uid_drop");
    }
  }
  if (root) active.push("capabilities_dropped");
  const abi = f.landlockAbi;
  if (abi >= 1) active.push("landlock_fs");
  if (abi >= 4) active.push("landlock_tcp");
  if (abi >= 6) active.push("landlock_scope");
  if (abi === 0) {
    missing.push("landlock: not available in this kernel (no filesystem, tcp or signal restriction)");
  } else if (abi < 6) missing.push(`landlock ABI ${abi} < 6: ${landlockGaps(abi).join(", ")} not enforced`);
  if (f.seccomp) active.push("seccomp");
  else missing.push("seccomp: not available in this kernel (processes and programs are not blocked)");
  const linux: LinuxPlan = {
    v: 1,
    stage: "launch",
    strict: i.mode === "strict",
    agentPid: i.agentPid,
    argv: i.argv,
    uid,
    gid,
    dropCaps: root,
    rlimits: { core: 0, data: (i.maxMemoryMb + DATA_MARGIN_MB) * 1024 * 1024, nofile: NOFILE },
    landlock: abi >= 1
      ? {
        abi: Math.min(abi, 6),
        read: i.read,
        write: [i.scratch],
        connectPorts: i.port === null ? [] : [i.port],
      }
      : null,
    seccomp: f.seccomp,
  };
  return finish(i, active, missing, linux);
}

function finish(i: PlanInput, active: Protection[], missing: string[], linux: LinuxPlan | null): MachinePlan {
  const refuse = i.mode === "strict" && missing.length > 0
    ? `machine ${i.machineId}: confinement = "strict" but ${missing.join("; ")}`
    : null;
  return { mode: i.mode, active, missing, refuse, linux };
}

/** One line for the log and `status`: `best_effort: no_new_privs, ...; not enforced: ...`. */
export function describePlan(
  p: { readonly mode: string; readonly active: readonly string[]; readonly missing: readonly string[] },
): string {
  if (p.mode === "off") return "off (no OS confinement)";
  const on = p.active.length ? p.active.join(", ") : "nothing";
  return `${p.mode}: ${on}${p.missing.length ? `; not enforced: ${p.missing.join("; ")}` : ""}`;
}

/** Reads a plan from the environment value; throws a one-line error on anything else. */
export function parsePlan(text: string): LinuxPlan {
  const v = JSON.parse(text) as LinuxPlan;
  if (typeof v !== "object" || v === null || v.v !== 1 || (v.stage !== "launch" && v.stage !== "exec")) {
    throw new Error(`${PLAN_ENV} is not a confinement plan of version 1`);
  }
  if (!Array.isArray(v.argv) || v.argv.length === 0 || !Number.isInteger(v.agentPid)) {
    throw new Error(`${PLAN_ENV}: argv and agentPid are required`);
  }
  return v;
}
