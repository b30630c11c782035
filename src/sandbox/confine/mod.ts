/**
 * OS confinement of worker processes, agent side: probes the kernel once, resolves `[agent] worker_user`,
 * decides each machine's plan (plan.ts), creates the machine's scratch folder, and turns the worker command
 * line into the confined one (process.ts calls {@link Confiner.command}). The worker side is worker.ts,
 * linux.ts (Landlock, seccomp, rlimits, uid drop) and, on Windows, windows.ts (a Job object the agent
 * creates right after the spawn). Threat model and per-platform table: docs/worker-protocol.md.
 */
import type { MachineConfig } from "../../config/types.ts";
import type { Log } from "../../log/mod.ts";
import { DENO_CONFIG, isStandalone, MAIN_MODULE } from "../../runtime.ts";
import type { SandboxPermissions } from "../protocol.ts";
import { machineWorkDir } from "../machine_worker.ts";
import { landlockAbi } from "./landlock.ts";
import { libc } from "./libc.ts";
import {
  type ConfinementMode,
  describePlan,
  type HostFacts,
  type MachinePlan,
  PLAN_ENV,
  planMachine,
} from "./plan.ts";
import { seccompAvailable } from "./seccomp.ts";
import { unreadableBy, userFromPasswd } from "./users.ts";
import { assignJobObject } from "./windows.ts";

export { type ConfinementMode, describePlan, type MachinePlan } from "./plan.ts";

/** `[agent]` settings and where scratch folders go. */
export interface ConfinerOptions {
  readonly mode: ConfinementMode;
  /** `[agent] worker_user` (name or numeric uid); used when the agent runs as root. */
  readonly workerUser: string;
  /**
   * The agent's data dir: a machine's scratch folder is the MachineWorker's `workDir` (the write grant in its
   * permissions), by default `<dataDir>/machines/<machine id>/` as the agent sets it.
   */
  readonly dataDir: string;
  readonly log?: Log;
  /** Probe results to use instead of the real kernel (tests). */
  readonly facts?: HostFacts;
  /**
   * Test hook: the launcher step runs the worker command itself (as the compiled binary does) instead of the
   * bare launcher module used from source.
   */
  readonly selfLaunch?: boolean;
}

/** A worker command line after confinement. */
export interface ConfinedCommand {
  readonly cmd: string;
  readonly args: string[];
  /** Added to the worker's environment. */
  readonly env: Record<string, string>;
  readonly cwd: string | undefined;
  /** Called with the new process (Windows: put it in its Job object). Throws to refuse the worker. */
  readonly afterSpawn: (child: Deno.ChildProcess) => void;
}

const SYSTEM_READ = [
  "/lib",
  "/lib64",
  "/usr/lib",
  "/usr/lib64",
  "/usr/local/lib",
  "/etc/ld.so.cache",
  "/etc/localtime",
  "/usr/share/zoneinfo",
  "/dev/null",
  "/dev/urandom",
];

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function realOrSelf(p: string): string {
  try {
    return Deno.realPathSync(p);
  } catch {
    return p;
  }
}

/** The Deno cache the worker reads from source (DENO_DIR, else the XDG / HOME default). */
function denoDir(): string | null {
  const d = Deno.env.get("DENO_DIR");
  if (d) return d;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  return xdg ? `${xdg}/deno` : home ? `${home}/.cache/deno` : null;
}

const dirOf = (p: string) => p.slice(0, Math.max(1, p.lastIndexOf("/")));

/**
 * What the runtime itself must read: the executable and, from source, the project's modules and the Deno
 * cache. Existing paths only, resolved.
 */
function runtimeRead(): string[] {
  const out = [Deno.execPath()];
  if (!isStandalone()) {
    const root = dirOf(MAIN_MODULE);
    out.push(MAIN_MODULE, DENO_CONFIG, `${root}/deno.lock`, `${root}/src`, `${root}/drivers`);
    const dd = denoDir();
    if (dd) out.push(dd);
  }
  return out.filter(exists).map(realOrSelf);
}

/** Probes the running kernel and user (Linux), once per agent. */
export function probeHost(workerUser: string, dataDir: string): HostFacts {
  const os = Deno.build.os === "linux" ? "linux" : Deno.build.os === "windows" ? "windows" : "other";
  if (os !== "linux") return { os, landlockAbi: 0, seccomp: false, euid: null, workerUser: null };
  const euid = libc().geteuid();
  let user: HostFacts["workerUser"] = null;
  if (euid === 0) {
    const u = userFromPasswd(workerUser, Deno.readTextFileSync("/etc/passwd"));
    if (u === null) user = { name: workerUser, problem: `user "${workerUser}" is not in /etc/passwd` };
    else if (u.uid === 0) user = { name: workerUser, problem: `user "${workerUser}" is root` };
    else {
      const problem = unreadableBy([...runtimeRead(), dataDir], u.uid, u.gid);
      user = problem ? { name: workerUser, problem } : { name: workerUser, uid: u.uid, gid: u.gid };
    }
  }
  return { os, landlockAbi: landlockAbi(), seccomp: seccompAvailable(), euid, workerUser: user };
}

/** One per agent: decides and applies each machine's confinement. */
export class Confiner {
  readonly facts: HostFacts;
  readonly #o: ConfinerOptions;
  readonly #runtimeRead: string[];
  readonly #warned = new Set<string>();
  readonly #status = new Map<string, { mode: string; active: string[]; missing: string[] }>();

  constructor(opts: ConfinerOptions) {
    this.#o = opts;
    this.facts = opts.mode === "off"
      ? { os: "other", landlockAbi: 0, seccomp: false, euid: null, workerUser: null }
      : opts.facts ?? probeHost(opts.workerUser, opts.dataDir);
    this.#runtimeRead = opts.mode === "off" || this.facts.os !== "linux" ? [] : runtimeRead();
  }

  /** The configured mode. */
  get mode(): ConfinementMode {
    return this.#o.mode;
  }

  /** Scratch folder of a machine (the worker's cwd; the only place it may write). */
  scratch(machine: MachineConfig, perms: SandboxPermissions | null = null): string {
    const granted = perms?.write ? perms.write[0] : undefined;
    return granted ?? machineWorkDir(this.#o.dataDir, machine.id);
  }

  /** The plan of one machine (what status and the log show). */
  plan(
    machine: MachineConfig,
    perms: SandboxPermissions | null = null,
    module: string | null = null,
  ): MachinePlan {
    const read = [...this.#runtimeRead, ...SYSTEM_READ.filter(exists), "/proc/self"];
    for (const p of perms?.read || []) read.push(realOrSelf(p));
    for (const p of (Deno.env.get("LD_LIBRARY_PATH") ?? "").split(":")) if (p.startsWith("/")) read.push(p);
    // A test driver module (never from configuration): its folder, for the module and its relative imports.
    if (module?.startsWith("file:")) read.push(dirOf(decodeURIComponent(new URL(module).pathname)));
    return planMachine({
      mode: this.#o.mode,
      facts: this.facts,
      machineId: machine.id,
      agentPid: Deno.pid,
      argv: [],
      read,
      scratch: this.scratch(machine, perms),
      port: perms === null ? machine.port : perms.net === false ? null : machine.port,
      maxMemoryMb: machine.maxMemoryMb,
    });
  }

  /** The machine's confinement for `status --json` (computed once per machine). */
  status(machine: MachineConfig): { mode: string; active: string[]; missing: string[] } {
    let s = this.#status.get(machine.id);
    if (!s) {
      const p = this.plan(machine);
      s = { mode: p.mode, active: [...p.active], missing: [...p.missing] };
      this.#status.set(machine.id, s);
    }
    return s;
  }

  /** Logs each machine's protections once (agent start), and one warning for what is not enforced. */
  logPlans(machines: readonly MachineConfig[]): void {
    const log = this.#o.log;
    if (!log) return;
    for (const m of machines) {
      const p = this.plan(m);
      log.info(`machine ${m.id}: confinement ${describePlan(p)}`, { machine: m.id });
      for (const miss of p.missing) this.#warnOnce(`confinement ${p.mode}: not enforced: ${miss}`);
    }
  }

  /**
   * The confined form of the worker command `self` for one spawn. Throws (the spawn fails) in strict mode
   * when the plan is incomplete. Creates the scratch folder (owned by the worker user).
   */
  command(
    machine: MachineConfig,
    perms: SandboxPermissions,
    module: string | null,
    self: { cmd: string; args: string[] },
  ): ConfinedCommand {
    const plan = this.plan(machine, perms, module);
    const none = { ...self, env: {}, cwd: undefined, afterSpawn: () => {} };
    if (plan.refuse) throw new Error(plan.refuse);
    if (plan.mode === "off") return none;
    const scratch = this.scratch(machine, perms);
    Deno.mkdirSync(scratch, { recursive: true, mode: 0o700 });
    if (this.facts.os === "windows") {
      return {
        ...none,
        cwd: scratch,
        afterSpawn: (c) => this.#job(c, machine, plan),
      };
    }
    if (!plan.linux) return { ...none, cwd: scratch };
    if (plan.linux.uid !== null) Deno.chownSync(scratch, plan.linux.uid, plan.linux.gid);
    const argv = [self.cmd, ...self.args];
    const linux = { ...plan.linux, argv };
    // From source, the launcher is a bare module (one cheap Deno start); the binary launches itself.
    const launcher = (this.#o.selfLaunch ?? isStandalone()) ? self : {
      cmd: self.cmd,
      // The worker's own arguments too (ignored by the launcher): `ps` and /proc show which machine it is.
      args: [
        "run",
        "-A",
        "--no-config",
        "--no-lock",
        // Like OFFLINE_FLAGS: the launcher's own graph is local files only, so nothing may be fetched for it.
        "--cached-only",
        "--no-remote",
        "--no-prompt",
        "--quiet",
        launcherPath(),
        "__worker",
        "--machine",
        machine.id,
      ],
    };
    return { ...launcher, env: { [PLAN_ENV]: JSON.stringify(linux) }, cwd: scratch, afterSpawn: () => {} };
  }

  /** Windows: the worker's Job object; closed once the worker has exited. */
  #job(child: Deno.ChildProcess, machine: MachineConfig, plan: MachinePlan): void {
    try {
      const close = assignJobObject(child.pid, machine.maxMemoryMb);
      child.status.finally(close);
    } catch (e) {
      const msg = `machine ${machine.id}: job object: ${(e as Error).message}`;
      if (plan.mode === "strict") throw new Error(`${msg} (confinement = "strict")`);
      this.#warnOnce(`${msg}; the worker runs without it (best_effort)`);
    }
  }

  #warnOnce(msg: string): void {
    if (this.#warned.has(msg)) return;
    this.#warned.add(msg);
    this.#o.log?.warn(msg);
  }
}

function launcherPath(): string {
  return decodeURIComponent(new URL("./launch.ts", import.meta.url).pathname);
}
