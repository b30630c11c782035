/**
 * No module loading from outside the bundle: what the agent does (from source) so that a worker can run with
 * `--cached-only --frozen --no-remote` (src/runtime.ts workerCommand) and still load its driver's own npm
 * dependencies.
 *
 * - {@link precacheDriver}: before the first worker of a driver module starts, the agent runs
 *   `deno cache --frozen --config deno.json <module>` once per module and process (memoised). The driver's
 *   static graph, npm packages included, is then in the cache, at exactly the versions of deno.lock
 *   (`--frozen`: a package missing from the lockfile is an error here, in the agent, with a message; it is never
 *   fetched by a worker). The agent is trusted code with the operator's environment; the worker is not. In the
 *   compiled binary nothing is done: its modules are embedded.
 * - {@link workerEnvOverrides}: the worker gets a scratch HOME (an empty folder the agent creates once per
 *   process), so no `~/.npmrc` token or other dotfile of the operator is in reach through HOME; and DENO_DIR
 *   pinned to the agent's own cache, since on Linux the default cache lives under HOME.
 */
import { bundleDenoDir, DENO_CONFIG, isStandalone } from "../runtime.ts";

const cached = new Map<string, Promise<string | null>>();

/**
 * Makes sure the driver module `url` and its static graph are in the cache (from source; a no-op in the binary).
 * Resolves to null when done, else a one-line problem. Runs at most once per module per process.
 */
export function precacheDriver(url: string): Promise<string | null> {
  // The binary embeds its modules; the offline bundle ships its cache complete (and must not download).
  if (isStandalone() || bundleDenoDir() !== null || !url.startsWith("file:")) return Promise.resolve(null);
  let p = cached.get(url);
  if (!p) {
    p = (async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["cache", "--frozen", "--quiet", "--config", DENO_CONFIG, url],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      if (out.success) return null;
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").filter((l) => l.trim()).slice(0, 3);
      return `cannot cache the driver module ${url} (deno cache --frozen exited ${out.code}): ${
        err.join(" | ")
      }`;
    })();
    cached.set(url, p);
    // A failure is not remembered: the next start tries again (the operator may have fixed deno.lock).
    p.then((r) => r !== null && cached.delete(url), () => cached.delete(url));
  }
  return p;
}

/** The agent's DENO_DIR as Deno computes it (DENO_DIR, else the platform's cache folder + /deno), or null. */
export function agentDenoDir(env: (k: string) => string | undefined = (k) => Deno.env.get(k)): string | null {
  const explicit = env("DENO_DIR");
  if (explicit) return explicit;
  switch (Deno.build.os) {
    case "windows": {
      const local = env("LOCALAPPDATA");
      return local ? `${local}\\deno` : null;
    }
    case "darwin": {
      const home = env("HOME");
      return home ? `${home}/Library/Caches/deno` : null;
    }
    default: {
      const xdg = env("XDG_CACHE_HOME");
      if (xdg) return `${xdg}/deno`;
      const home = env("HOME");
      return home ? `${home}/.cache/deno` : null;
    }
  }
}

let scratchHome: string | null = null;

/** Environment a worker gets on top of the kept variables: a scratch HOME and, from source, DENO_DIR. */
export function workerEnvOverrides(): Record<string, string> {
  if (scratchHome === null) {
    const home = Deno.makeTempDirSync({ prefix: "simco-worker-home-" });
    // Empty, so searchable by a worker running as another user (confinement's worker_user): a lookup of
    // ~/.npmrc then finds nothing instead of failing with EACCES.
    if (Deno.build.os !== "windows") Deno.chmodSync(home, 0o755);
    // Removed when the agent exits normally; a killed agent leaves one empty folder in the temp folder.
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(home, { recursive: true });
      } catch {
        // Already gone, or a worker still holds it: it is empty either way.
      }
    });
    scratchHome = home;
  }
  const env: Record<string, string> = { HOME: scratchHome, USERPROFILE: scratchHome };
  const denoDir = isStandalone() ? null : agentDenoDir();
  if (denoDir) env.DENO_DIR = denoDir;
  return env;
}
