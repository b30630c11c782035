/**
 * Processes seen through Linux /proc, for tests that check no worker or agent process stays behind: one
 * scan (procInfo) behind childPids, isAlive and liveProcesses. Elsewhere /proc is absent and these report
 * nothing alive; tests that depend on them skip themselves off Linux.
 */

/** One live (non-zombie) process from /proc: its pid, parent pid and argv. */
export interface ProcInfo {
  /** Process id. */
  readonly pid: number;
  /** Parent process id. */
  readonly ppid: number;
  /** Command line. */
  readonly argv: string[];
}

/** The live process `pid` (Linux /proc), or null when it is gone, a zombie, or not on Linux. */
export function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return null;
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return { pid, ppid: Number(fields[1]), argv };
  } catch {
    return null;
  }
}

/** Every live process (Linux /proc; empty elsewhere). */
export function liveProcesses(): ProcInfo[] {
  if (Deno.build.os !== "linux") return [];
  const out: ProcInfo[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const p = procInfo(Number(e.name));
    if (p) out.push(p);
  }
  return out;
}

/** Pids of live processes whose parent is `ppid` (Linux /proc; empty elsewhere). */
export function childPids(ppid: number): number[] {
  return liveProcesses().filter((p) => p.ppid === ppid).map((p) => p.pid);
}

/** Whether a pid is a live (non-zombie) process (Linux /proc; false elsewhere). */
export function isAlive(pid: number): boolean {
  return procInfo(pid) !== null;
}
