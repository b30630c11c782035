import { assertEquals } from "../../../tests/assert.ts";
import { AUDIT_ARCH_X86_64, DENIED, encodeProgram, evaluate, NR, RET, workerFilter } from "./seccomp.ts";

const SELF = 4242;
const prog = workerFilter(SELF);
const run = (nr: number, args: number[] = [], arch = AUDIT_ARCH_X86_64) => evaluate(prog, nr, arch, args);
const EPERM = RET.ERRNO | 1;

Deno.test("seccomp filter: processes and programs are refused, threads are not", () => {
  const CLONE_THREAD = 0x10000;
  const glibcThread = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
  assertEquals(run(NR.clone, [glibcThread]), RET.ALLOW);
  assertEquals(run(NR.clone, [CLONE_THREAD]), RET.ALLOW);
  assertEquals(run(NR.clone, [0x01200011]), EPERM); // glibc fork(): SIGCHLD|CHILD_SETTID|CHILD_CLEARTID
  assertEquals(run(NR.clone, [0x4111]), EPERM); // posix_spawn: CLONE_VM|CLONE_VFORK|SIGCHLD
  assertEquals(run(NR.clone3), RET.ERRNO | 38);
  for (const nr of [NR.fork, NR.vfork, NR.execve, NR.execveat, NR.ptrace, NR.process_vm_readv]) {
    assertEquals(run(nr), EPERM, `syscall ${nr}`);
  }
});

Deno.test("seccomp filter: signals only to the worker itself", () => {
  assertEquals(run(NR.kill, [SELF, 15]), RET.ALLOW);
  assertEquals(run(NR.kill, [1, 9]), EPERM);
  assertEquals(run(NR.kill, [0, 9]), EPERM); // the process group, which includes the agent
  assertEquals(run(NR.kill, [-1, 9]), EPERM);
  assertEquals(run(NR.tgkill, [SELF, SELF + 1, 11]), RET.ALLOW);
  assertEquals(run(NR.tgkill, [SELF - 1, SELF - 1, 9]), EPERM);
  assertEquals(run(NR.rt_sigqueueinfo, [SELF - 1]), EPERM);
});

Deno.test("seccomp filter: wrong architecture kills, x32 numbers and admin calls are refused, the rest passes", () => {
  assertEquals(run(0, [], 0x40000003 /* AUDIT_ARCH_I386 */), RET.KILL_PROCESS);
  assertEquals(run(0x40000000 + NR.execve), EPERM);
  for (const nr of DENIED) assertEquals(run(nr), EPERM);
  for (const nr of [0, 1, 2, 9, 41, 42, 202, 231, 257]) assertEquals(run(nr), RET.ALLOW, `syscall ${nr}`);
});

Deno.test("seccomp filter: struct sock_filter encoding is 8 bytes per instruction, little-endian", () => {
  const b = encodeProgram([{ code: 0x15, jt: 1, jf: 2, k: AUDIT_ARCH_X86_64 }]);
  assertEquals([...b], [0x15, 0, 1, 2, 0x3e, 0x00, 0x00, 0xc0]);
  assertEquals(encodeProgram(prog).length, prog.length * 8);
  // Jump offsets are 8-bit: the program must stay small enough for the relative jumps used.
  assertEquals(prog.every((i) => i.jt < 256 && i.jf < 256), true);
});
