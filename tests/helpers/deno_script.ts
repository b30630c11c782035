/** Starting a helper script of the tests or benchmarks as its own Deno process, with the project's deno.json. */
import { fileURLToPath } from "node:url";
import { DENO_CONFIG } from "../../src/runtime.ts";

/** Arguments for `Deno.execPath()` that run `script` (a path or file URL) with all permissions and `args`. */
export function denoScriptArgs(script: string | URL, ...args: string[]): string[] {
  const path = script instanceof URL || script.startsWith("file:") ? fileURLToPath(script) : script;
  return ["run", "-A", "--no-prompt", "--config", DENO_CONFIG, path, ...args];
}

/** A separate process holding a data dir's lock (tests/processes/buffer_lock_holder.ts), as `run` would. */
export interface DataDirHolder {
  /** The holder's pid (what "another simco-agent (pid N)" messages name). */
  readonly pid: number;
  /** Kills the holder with SIGKILL and reaps it; the OS releases the lock. */
  release(): Promise<void>;
}

/** Starts a process that takes the data dir's lock and resolves once it holds it. */
export async function holdDataDir(dataDir: string): Promise<DataDirHolder> {
  const holder = new Deno.Command(Deno.execPath(), {
    args: denoScriptArgs(new URL("../processes/buffer_lock_holder.ts", import.meta.url), "hold", dataDir),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value).trim();
  reader.releaseLock();
  const release = async () => {
    try {
      holder.kill("SIGKILL");
    } catch { /* already gone */ }
    await holder.stdout.cancel();
    await holder.status;
  };
  if (first !== "locked") {
    await release();
    throw new Error(`lock holder for ${dataDir} said ${JSON.stringify(first)}, expected "locked"`);
  }
  return { pid: holder.pid, release };
}
