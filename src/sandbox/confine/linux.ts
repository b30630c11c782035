/**
 * Applies a {@link LinuxPlan} to a worker process, in two steps, because Deno starts threads before any user
 * code runs and Landlock, raw uid/gid changes and capability changes affect only the calling thread:
 *
 * 1. `launch` (the first image, on its JavaScript main thread, which is the thread FFI calls run on):
 *    no_new_privs, rlimits (process-wide), Landlock, bounding set / gid / groups / uid / capabilities, the
 *    parent-death signal and a check that the parent is still the agent; then `execve` of the same command
 *    line. The new image starts with one thread, which inherits all of it.
 * 2. `exec` (the new image, before anything else runs, before the driver's Web Worker exists): the seccomp
 *    filter on every thread (TSYNC), the parent-death signal again (execve keeps it, but a credential change
 *    would have cleared it) and the parent check.
 *
 * In strict mode a step that fails ends the process with {@link EXIT_CONFINE} and one stderr line; in
 * best_effort the step is skipped with one stderr line (the agent logs it).
 */
import { applyLandlock } from "./landlock.ts";
import { cstr, cstrArray, errno, errnoName, libc, sys } from "./libc.ts";
import { EXIT_CONFINE, type LinuxPlan, PLAN_ENV } from "./plan.ts";
import { installSeccomp } from "./seccomp.ts";

const PR_SET_PDEATHSIG = 1;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const SIGKILL = 9;
const CAP_LAST_CAP = 63; // drop every bit the kernel may know; unknown ones answer EINVAL and are skipped
const SYS_SETRESUID = 117;
const SYS_SETRESGID = 119;
const SYS_SETGROUPS = 116;
const SYS_CAPSET = 126;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const RLIMIT = { DATA: 2, CORE: 4, NOFILE: 7 } as const;
const O_PATH = 0o10000000;

class ConfineError extends Error {}

function fail(plan: LinuxPlan, what: string): void {
  if (plan.strict) throw new ConfineError(what);
  console.error(`confinement: ${what}; continuing without it (best_effort)`);
}

function check(plan: LinuxPlan, what: string, r: number): void {
  if (r < 0) fail(plan, `${what} failed (${errnoName(-r)})`);
}

function prctl(option: number, arg: number): number {
  const r = libc().prctl(option, BigInt(arg), 0n, 0n, 0n);
  return r < 0 ? -errno() : r;
}

function setrlimit(resource: number, value: number): number {
  const b = new BigUint64Array([BigInt(value), BigInt(value)]);
  const r = libc().setrlimit(resource, new Uint8Array(b.buffer));
  return r < 0 ? -errno() : r;
}

function parentGuard(plan: LinuxPlan): void {
  check(plan, "prctl(PR_SET_PDEATHSIG)", prctl(PR_SET_PDEATHSIG, SIGKILL));
  // The agent may have died before the signal was armed: then this process was re-parented.
  const ppid = libc().getppid();
  if (ppid !== plan.agentPid) {
    throw new ConfineError(`parent is pid ${ppid}, not the agent (pid ${plan.agentPid}); exiting`);
  }
}

function dropPrivileges(plan: LinuxPlan): void {
  if (plan.dropCaps) {
    for (let cap = 0; cap <= CAP_LAST_CAP; cap++) {
      const r = prctl(PR_CAPBSET_DROP, cap);
      if (r < 0 && r !== -22) check(plan, `dropping capability ${cap} from the bounding set`, r);
    }
  }
  if (plan.gid !== null) {
    check(plan, "setgroups([])", sys(SYS_SETGROUPS, 0, null));
    check(plan, `setresgid(${plan.gid})`, sys(SYS_SETRESGID, plan.gid, plan.gid, plan.gid));
  }
  if (plan.uid !== null) {
    check(plan, `setresuid(${plan.uid})`, sys(SYS_SETRESUID, plan.uid, plan.uid, plan.uid));
  }
  if (plan.dropCaps) {
    const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
    const data = new Uint32Array(6); // two { effective, permitted, inheritable }, all zero
    check(plan, "capset(0)", sys(SYS_CAPSET, Deno.UnsafePointer.of(header), Deno.UnsafePointer.of(data)));
  }
}

/**
 * Keeps `/proc/<own pid>` in the dentry cache for the life of the process: an O_PATH descriptor without
 * O_CLOEXEC, inherited by the exec'd worker and never closed. Landlock's rule holds the inode it was given,
 * but procfs makes a new inode whenever the dentry is looked up afresh (after memory pressure evicted it);
 * without the pin, the worker then loses `/proc/self` (measured: with `echo 2 > /proc/sys/vm/drop_caches`,
 * `Deno.memoryUsage().rss` became unreadable and the memory cap stopped working).
 */
function pinProcDir(): void {
  sys(2, /* open */ Deno.UnsafePointer.of(cstr(`/proc/${Deno.pid}`)), O_PATH);
}

function launch(plan: LinuxPlan): never {
  check(plan, "prctl(PR_SET_NO_NEW_PRIVS)", prctl(PR_SET_NO_NEW_PRIVS, 1));
  check(plan, "setrlimit(RLIMIT_CORE)", setrlimit(RLIMIT.CORE, plan.rlimits.core));
  check(plan, "setrlimit(RLIMIT_NOFILE)", setrlimit(RLIMIT.NOFILE, plan.rlimits.nofile));
  if (plan.rlimits.data !== null) {
    check(plan, "setrlimit(RLIMIT_DATA)", setrlimit(RLIMIT.DATA, plan.rlimits.data));
  }
  if (plan.landlock) {
    const ll = plan.landlock;
    const read = ll.read.map((p) => p === "/proc/self" ? `/proc/${Deno.pid}` : p);
    pinProcDir();
    try {
      applyLandlock(ll.abi, { read, write: ll.write, connectPorts: ll.connectPorts });
    } catch (e) {
      fail(plan, `landlock: ${(e as Error).message}`);
    }
  }
  dropPrivileges(plan);
  parentGuard(plan);
  const env = Deno.env.toObject();
  env[PLAN_ENV] = JSON.stringify({ ...plan, stage: "exec" });
  const argv = cstrArray(plan.argv);
  const envp = cstrArray(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  libc().execve(cstr(plan.argv[0]), new Uint8Array(argv.array.buffer), new Uint8Array(envp.array.buffer));
  throw new ConfineError(`execve ${plan.argv[0]} failed (${errnoName(errno())})`);
}

function afterExec(plan: LinuxPlan): void {
  if (plan.seccomp) {
    try {
      installSeccomp(Deno.pid);
    } catch (e) {
      fail(plan, (e as Error).message);
    }
  }
  parentGuard(plan);
}

/**
 * Applies `plan` to this process: in the `launch` stage this never returns (it execs); in the `exec` stage
 * it returns once seccomp is on. On a strict failure, exits with {@link EXIT_CONFINE}.
 */
export function confineLinux(plan: LinuxPlan): void {
  try {
    if (plan.stage === "launch") launch(plan);
    else afterExec(plan);
  } catch (e) {
    console.error(`confinement: ${e instanceof ConfineError ? e.message : String(e)}`);
    Deno.exit(EXIT_CONFINE);
  }
}
