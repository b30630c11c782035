/**
 * Running Windows programs under Wine 10 in the Debian 13 chroot that tools/wine/chroot.sh builds. Each command
 * gets its own mount namespace (`unshare -m`) in which /proc, /dev and one work folder (as `/w`, i.e.
 * `Z:\w` for Windows programs) are bound into the chroot, so nothing stays mounted when it ends. The network
 * is the host's: a server on the host's 127.0.0.1 is reachable.
 */
import { fileURLToPath } from "node:url";

/** Where the chroot lives (outside the repository; reused across runs). */
export const CHROOT: string = Deno.env.get("SIMCO_WINE_CHROOT") ?? "/var/cache/simco-wine-chroot";

/** Why Wine cannot be used on this machine, or null. */
export function wineUnavailable(): string | null {
  if (Deno.build.os !== "linux") return "the Wine chroot is built on Linux";
  if (Deno.uid() !== 0) return "building and entering the chroot needs root";
  return null;
}

/** Builds the chroot unless a finished one is cached. Throws with the script's output when it fails. */
export async function ensureChroot(): Promise<void> {
  const script = fileURLToPath(new URL("./chroot.sh", import.meta.url));
  const out = await new Deno.Command("bash", { args: [script], env: { SIMCO_WINE_CHROOT: CHROOT } }).output();
  if (!out.success) throw new Error(`tools/wine/chroot.sh failed (exit ${out.code})`);
}

// $1 chroot, $2 host work folder, $3 folder to start in (inside the chroot); the rest is the command.
const ENTER = `set -e; C=$1; W=$2; shift 2
mount --rbind /proc "$C/proc"; mount --rbind /dev "$C/dev"; mkdir -p "$C/w"; mount --bind "$W" "$C/w"
exec chroot "$C" "$@"`;

/**
 * `Deno.Command` options that run `argv` (e.g. `["wine", "Z:\\w\\app.exe", ...]`) in the chroot with the host
 * folder `work` as `/w`, in the chroot folder `cwd`, with exactly the environment `env` (plus what Wine needs).
 */
export function inChroot(
  work: string,
  cwd: string,
  env: Record<string, string>,
  argv: string[],
): { cmd: string; args: string[] } {
  const vars = {
    HOME: "/root",
    PATH: "/usr/bin:/bin",
    WINEDEBUG: "-all",
    WINEDLLOVERRIDES: "mscoree,mshtml=",
    ...env,
  };
  return {
    cmd: "unshare",
    args: [
      "-m",
      "sh",
      "-c",
      ENTER,
      "sh",
      CHROOT,
      work,
      "/usr/bin/env",
      "-i",
      ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
      "sh",
      "-c",
      'cd "$0" && exec "$@"',
      cwd,
      ...argv,
    ],
  };
}

/** Runs `argv` in the chroot to completion; returns exit code and output. */
export async function runInChroot(
  work: string,
  cwd: string,
  env: Record<string, string>,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { cmd, args } = inChroot(work, cwd, env, argv);
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
