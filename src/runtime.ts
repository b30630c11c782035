/**
 * How this program was started, and how to start another copy of it (for driver workers and tests).
 *
 * The compiled binary (`deno compile`) and `deno run main.ts` take the same code path: a child is always
 * `Deno.execPath()` plus arguments. Under `deno run` those arguments are `run <RUNTIME_FLAGS> --config
 * <deno.json> <main.ts>`; in the binary the flags are baked in at compile time (deno.json task `compile` uses
 * the same RUNTIME_FLAGS, which a test checks).
 *
 * The offline bundle (`deno task bundle`, tools/bundle/) is the source run by the Deno runtime shipped beside
 * it: its launcher adds OFFLINE_FLAGS and the bundle's own npm cache, and a marker file `bundle.json` beside
 * main.ts tells selfCommand to start workers the same way.
 */
import { statSync } from "node:fs";
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

/**
 * Flags the offline bundle's launcher adds to RUNTIME_FLAGS: nothing is resolved or downloaded at run time
 * (`--cached-only`, `--no-remote`), and the lockfile is only read, never written (`--frozen`; the bundle
 * folder may be read-only).
 */
export const OFFLINE_FLAGS: readonly string[] = ["--cached-only", "--no-remote", "--frozen"];

/** Name of the marker file the bundle builder puts beside main.ts. */
export const BUNDLE_MARKER = "bundle.json";

/** Absolute path of main.ts (meaningful only when not compiled). */
export const MAIN_MODULE: string = fromFileUrl(new URL("../main.ts", import.meta.url));

/** Absolute path of deno.json (meaningful only when not compiled). */
export const DENO_CONFIG: string = fromFileUrl(new URL("../deno.json", import.meta.url));

/** True in the compiled binary. */
export function isStandalone(): boolean {
  return Deno.build.standalone === true;
}

let bundleCache: string | null | undefined;

/**
 * The npm cache (DENO_DIR) of the offline bundle this program runs from, or null when it is not a bundle
 * (no `bundle.json` beside main.ts). The bundle layout is `<root>/app/main.ts` and `<root>/cache/`.
 */
export function bundleDenoDir(): string | null {
  if (bundleCache !== undefined) return bundleCache;
  bundleCache = null;
  if (!isStandalone()) {
    try {
      statSync(fromFileUrl(new URL(`../${BUNDLE_MARKER}`, import.meta.url)));
      bundleCache = fromFileUrl(new URL("../../cache", import.meta.url));
    } catch { /* not a bundle */ }
  }
  return bundleCache;
}

/** How to start this program again: executable, arguments, and environment variables to set. */
export interface SelfCommand {
  /** The executable. */
  readonly cmd: string;
  /** Its arguments. */
  readonly args: string[];
  /** Variables the child needs on top of what the caller passes (the bundle's DENO_DIR). */
  readonly env: Record<string, string>;
}

/**
 * The command that starts this program again with `args`: `[executable, ...argv]`.
 * `simco-agent __worker ...` in the binary; `deno run <flags> --config deno.json main.ts __worker ...` otherwise
 * (in the offline bundle with OFFLINE_FLAGS too, and DENO_DIR set to the bundle's cache).
 */
export function selfCommand(args: readonly string[]): SelfCommand {
  if (isStandalone()) return { cmd: Deno.execPath(), args: [...args], env: {} };
  const denoDir = bundleDenoDir();
  const offline = denoDir === null ? [] : OFFLINE_FLAGS;
  return {
    cmd: Deno.execPath(),
    args: ["run", ...RUNTIME_FLAGS, ...offline, "--config", DENO_CONFIG, MAIN_MODULE, ...args],
    env: denoDir === null ? {} : { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
  };
}

/**
 * The command of a driver worker: {@link selfCommand}, and from source always with OFFLINE_FLAGS, so that a
 * worker loads only what is already in the cache and locked: `--cached-only` (an `import("npm:...")` of an
 * uncached package fails instead of fetching from the registry), `--frozen` (the lockfile is never written),
 * `--no-remote` (no http(s) module at all). `https:` and `jsr:` imports already fail on the driver's
 * `import: false` permission; `npm:` does not, hence these. A driver's own npm dependency must therefore be
 * cached before its first worker starts: src/sandbox/module_cache.ts does that from source. The offline bundle
 * already runs with these flags; the compiled binary embeds its modules and takes no run-time flags, so a
 * worker started from it runs only the embedded graph (docs/worker-protocol.md, "Module loading").
 */
export function workerCommand(args: readonly string[]): SelfCommand {
  const self = selfCommand(args);
  if (isStandalone() || bundleDenoDir() !== null) return self;
  const at = self.args.indexOf("--config");
  return { ...self, args: [...self.args.slice(0, at), ...OFFLINE_FLAGS, ...self.args.slice(at)] };
}

/**
 * The folder relative command-line paths refer to. `deno task` runs in the project folder and puts the user's
 * folder in INIT_CWD; the binary and the bundle's launcher are run directly.
 */
export function userCwd(): string {
  if (!isStandalone() && bundleDenoDir() === null) {
    const init = Deno.env.get("INIT_CWD");
    if (init) return init;
  }
  return Deno.cwd();
}
