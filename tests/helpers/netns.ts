/**
 * A network namespace with only loopback (`unshare -n`, `lo` up), held open by a sleeping process so that
 * several commands can be started in it (`nsenter --net`), and an unprivileged user to run them as
 * (`setpriv`, no supplementary groups, an environment built from scratch). Linux and root only: the tests
 * that need it are skipped with {@link netnsUnavailable}'s reason elsewhere.
 */

/** An unprivileged local user. */
export interface User {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** A held network namespace. */
export interface NetNs {
  /** argv prefix that runs a command inside the namespace. */
  readonly enter: string[];
  /** Ends the holder; the namespace disappears with its last process. */
  close(): Promise<void>;
}

function ok(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Why this machine cannot run the namespace tests, or null when it can. */
export function netnsUnavailable(): string | null {
  if (Deno.build.os !== "linux") return "network namespaces are Linux only";
  if (Deno.uid() !== 0) return "creating a network namespace and a user needs root";
  for (const tool of ["unshare", "nsenter", "setpriv", "ip", "useradd"]) {
    if (!ok("sh", ["-c", `command -v ${tool}`])) return `${tool} is not installed`;
  }
  if (!ok("unshare", ["-n", "ip", "link", "set", "lo", "up"])) return "unshare -n is not permitted here";
  return null;
}

/** The system user `name`, created (no home, no login shell) when missing. */
export function ensureUser(name: string): User {
  const id = (flag: string) =>
    new Deno.Command("id", { args: [flag, name], stdout: "piped", stderr: "null" });
  if (!id("-u").outputSync().success) {
    const r = new Deno.Command("useradd", {
      args: ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
      stderr: "piped",
    }).outputSync();
    if (!r.success) throw new Error(`useradd ${name}: ${new TextDecoder().decode(r.stderr)}`);
  }
  const num = (flag: string) => Number(new TextDecoder().decode(id(flag).outputSync().stdout).trim());
  return { name, uid: num("-u"), gid: num("-g") };
}

/** Creates a namespace with loopback up and no other interface. */
export async function openNetNs(): Promise<NetNs> {
  const holder = new Deno.Command("unshare", {
    args: ["-n", "sh", "-c", "ip link set lo up && echo ready && exec sleep 3600"],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  if (first.value?.trim() !== "ready") {
    throw new Error(`expected the namespace holder to say ready, got ${first.value}`);
  }
  return {
    enter: ["nsenter", `--net=/proc/${holder.pid}/ns/net`, "--"],
    async close() {
      try {
        holder.kill("SIGKILL");
      } catch { /* gone */ }
      await reader.cancel().catch(() => {});
      await holder.status;
    },
  };
}

/** argv prefix that runs a command as `user` with exactly the environment `env`. */
export function asUser(user: User, env: Record<string, string>): string[] {
  return [
    "setpriv",
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--clear-groups",
    "--",
    "env",
    "-i",
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ];
}
