/**
 * The worker's seccomp filter (x86-64): no new processes, no programs, no tracing or reading other
 * processes' memory, no signals to other processes, and none of the calls that administer the machine.
 * Installed with SECCOMP_FILTER_FLAG_TSYNC by the exec'd worker before the driver's Web Worker exists, so it
 * covers every thread the runtime already started, and every later thread inherits it.
 *
 * `clone` is allowed only with CLONE_THREAD (threads, not processes); `clone3` answers ENOSYS so glibc and
 * Rust fall back to `clone`, whose flags a classic BPF filter can see. `kill`, `tgkill`,
 * `rt_sigqueueinfo` and `rt_tgsigqueueinfo` are allowed only towards the worker's own pid. The program is
 * built by {@link workerFilter} (pure, tested) and installed by {@link installSeccomp}.
 */
import { libc, sys } from "./libc.ts";

/** `AUDIT_ARCH_X86_64`. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const CLONE_THREAD = 0x00010000;

/** `SECCOMP_RET_*` actions. */
export const RET = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  ALLOW: 0x7fff0000,
} as const;
const EPERM = 1;
const ENOSYS = 38;

/** x86-64 syscall numbers the filter names. */
export const NR = {
  clone: 56,
  fork: 57,
  vfork: 58,
  execve: 59,
  kill: 62,
  ptrace: 101,
  rt_sigqueueinfo: 129,
  pivot_root: 155,
  chroot: 161,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  init_module: 175,
  delete_module: 176,
  tkill: 200,
  tgkill: 234,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  unshare: 272,
  rt_tgsigqueueinfo: 297,
  perf_event_open: 298,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  execveat: 322,
  userfaultfd: 323,
  pidfd_send_signal: 424,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  clone3: 435,
  pidfd_getfd: 438,
} as const;

/** Calls refused with EPERM, whatever their arguments. */
export const DENIED: readonly number[] = [
  NR.fork,
  NR.vfork,
  NR.execve,
  NR.execveat,
  NR.ptrace,
  NR.process_vm_readv,
  NR.process_vm_writev,
  NR.tkill,
  NR.pidfd_send_signal,
  NR.pidfd_getfd,
  NR.mount,
  NR.umount2,
  NR.pivot_root,
  NR.chroot,
  NR.unshare,
  NR.setns,
  NR.bpf,
  NR.perf_event_open,
  NR.kexec_load,
  NR.kexec_file_load,
  NR.init_module,
  NR.finit_module,
  NR.delete_module,
  NR.reboot,
  NR.swapon,
  NR.swapoff,
  NR.keyctl,
  NR.add_key,
  NR.request_key,
  NR.userfaultfd,
  NR.io_uring_setup,
  NR.io_uring_enter,
  NR.io_uring_register,
  NR.name_to_handle_at,
  NR.open_by_handle_at,
];

/** Signal calls whose first argument (a pid or tgid) must be the worker's own pid. */
export const SIGNAL_TO_SELF_ONLY: readonly number[] = [
  NR.kill,
  NR.tgkill,
  NR.rt_sigqueueinfo,
  NR.rt_tgsigqueueinfo,
];

// Classic BPF opcodes.
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0 = 16; // low 32 bits of args[0] (little-endian)

/** One `struct sock_filter`. */
export interface Insn {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

const insn = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, jt, jf, k });

/** The filter for a worker whose pid is `selfPid`. Pure. */
export function workerFilter(selfPid: number): Insn[] {
  const p: Insn[] = [];
  // Wrong architecture: kill (a 32-bit syscall table would make every number below mean something else).
  p.push(insn(LD_W_ABS, OFF_ARCH));
  p.push(insn(JEQ_K, AUDIT_ARCH_X86_64, 1, 0));
  p.push(insn(RET_K, RET.KILL_PROCESS));
  p.push(insn(LD_W_ABS, OFF_NR));
  // x32 numbers alias the x86-64 ones with a high bit set: refuse them all.
  p.push(insn(JGE_K, X32_SYSCALL_BIT, 0, 1));
  p.push(insn(RET_K, RET.ERRNO | EPERM));
  for (const nr of DENIED) {
    p.push(insn(JEQ_K, nr, 0, 1));
    p.push(insn(RET_K, RET.ERRNO | EPERM));
  }
  p.push(insn(JEQ_K, NR.clone3, 0, 1));
  p.push(insn(RET_K, RET.ERRNO | ENOSYS));
  // clone: a thread (CLONE_THREAD set) is allowed, a process is not.
  p.push(insn(JEQ_K, NR.clone, 0, 4));
  p.push(insn(LD_W_ABS, OFF_ARG0));
  p.push(insn(JSET_K, CLONE_THREAD, 1, 0));
  p.push(insn(RET_K, RET.ERRNO | EPERM));
  p.push(insn(RET_K, RET.ALLOW));
  for (const nr of SIGNAL_TO_SELF_ONLY) {
    p.push(insn(JEQ_K, nr, 0, 4));
    p.push(insn(LD_W_ABS, OFF_ARG0));
    p.push(insn(JEQ_K, selfPid >>> 0, 1, 0));
    p.push(insn(RET_K, RET.ERRNO | EPERM));
    p.push(insn(RET_K, RET.ALLOW));
  }
  p.push(insn(RET_K, RET.ALLOW));
  return p;
}

/**
 * Runs `program` on one `seccomp_data` the way the kernel does; returns the action. For tests of the
 * filter's logic (the real kernel runs it in the escape tests).
 */
export function evaluate(
  program: readonly Insn[],
  nr: number,
  arch: number,
  args: readonly number[] = [],
): number {
  const word = (off: number) =>
    off === OFF_NR ? nr : off === OFF_ARCH ? arch : (args[(off - OFF_ARG0) / 8] ?? 0) >>> 0;
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const i = program[pc];
    switch (i.code) {
      case LD_W_ABS:
        a = word(i.k);
        break;
      case JEQ_K:
        pc += a === i.k ? i.jt : i.jf;
        break;
      case JGE_K:
        pc += a >= i.k ? i.jt : i.jf;
        break;
      case JSET_K:
        pc += (a & i.k) !== 0 ? i.jt : i.jf;
        break;
      case RET_K:
        return i.k >>> 0;
      default:
        throw new Error(`unknown opcode ${i.code}`);
    }
  }
  throw new Error("program fell off its end");
}

/** `struct sock_filter[]` bytes. */
export function encodeProgram(program: readonly Insn[]): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(program.length * 8);
  const v = new DataView(b.buffer);
  program.forEach((i, n) => {
    v.setUint16(n * 8, i.code, true);
    v.setUint8(n * 8 + 2, i.jt);
    v.setUint8(n * 8 + 3, i.jf);
    v.setUint32(n * 8 + 4, i.k >>> 0, true);
  });
  return b;
}

const SYS_SECCOMP = 317;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const PR_GET_SECCOMP = 21;

/** Whether this kernel has seccomp filters (PR_GET_SECCOMP answers). */
export function seccompAvailable(): boolean {
  return libc().prctl(PR_GET_SECCOMP, 0n, 0n, 0n, 0n) >= 0;
}

/**
 * Installs the worker filter on every thread of this process (TSYNC). Needs no_new_privs. Throws with the
 * errno, or the id of a thread that could not be synchronised.
 */
export function installSeccomp(selfPid: number): void {
  const filter = encodeProgram(workerFilter(selfPid));
  const fprog = new Uint8Array(16);
  const v = new DataView(fprog.buffer);
  v.setUint16(0, filter.length / 8, true);
  v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter))), true);
  const r = sys(
    SYS_SECCOMP,
    SECCOMP_SET_MODE_FILTER,
    SECCOMP_FILTER_FLAG_TSYNC,
    Deno.UnsafePointer.of(fprog),
  );
  if (r < 0) throw new Error(`seccomp(SET_MODE_FILTER, TSYNC) failed (errno ${-r})`);
  if (r > 0) throw new Error(`seccomp TSYNC: thread ${r} could not be synchronised`);
}
