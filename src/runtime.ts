/**
 * How this program was started, and how to start another copy of it (for driver workers and tests).
 *
 * The compiled binary (`deno compile`) and `deno run main.ts` take the same code path: a child is always
 * `Deno.execPath()` plus arguments. Under `deno run` those arguments are `run <RUNTIME_FLAGS> --config
 * <deno.json> <main.ts>`; in the binary the flags are baked in at compile time (deno.json task `compile` uses
 * the same RUNTIME_FLAGS, which a test checks).
 */
import { fileURLToPath as fromFileUrl } from "node:url";

/** Deno flags the binary is compiled with and that `deno task agent` runs with. */
// `--no-maglev`: V8's mid-tier compiler grows every worker by ~7 MiB over its first thousand polls; without it a
// worker stays near 19.7 MiB PSS at no measurable CPU cost (bench/sandbox_bench.ts, docs/worker-protocol.md). The
// compiled binary takes V8 flags only at compile time, hence here and in the compile task.
export const RUNTIME_FLAGS: readonly string[] = [
  "-A",
  "--unstable-worker-options",
  "--no-prompt",
  "--v8-flags=--no-maglev",
];

/** Absolute path of main.ts (meaningful only when not compiled). */
export const MAIN_MODULE: string = fromFileUrl(new URL("../main.ts", import.meta.url));

/** Absolute path of deno.json (meaningful only when not compiled). */
export const DENO_CONFIG: string = fromFileUrl(new URL("../deno.json", import.meta.url));

/** True in the compiled binary. */
export function isStandalone(): boolean {
  return Deno.build.standalone === true;
}

/**
 * The command that starts this program again with `args`: `[executable, ...argv]`.
 * `simco-agent __worker ...` in the binary; `deno run <flags> --config deno.json main.ts __worker ...` otherwise.
 */
export function selfCommand(args: readonly string[]): { cmd: string; args: string[] } {
  if (isStandalone()) return { cmd: Deno.execPath(), args: [...args] };
  return {
    cmd: Deno.execPath(),
    args: ["run", ...RUNTIME_FLAGS, "--config", DENO_CONFIG, MAIN_MODULE, ...args],
  };
}

/**
 * The folder relative command-line paths refer to. `deno task` runs in the project folder and puts the user's
 * folder in INIT_CWD; the binary is run directly.
 */
export function userCwd(): string {
  if (!isStandalone()) {
    const init = Deno.env.get("INIT_CWD");
    if (init) return init;
  }
  return Deno.cwd();
}
