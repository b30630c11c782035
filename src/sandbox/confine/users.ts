/**
 * The worker user: looked up in /etc/passwd, and checked against the files a worker must read once it runs
 * as that user (a DENO_DIR inside root's 0700 home is the usual problem). Pure functions plus `stat`.
 */

/** uid and gid of `name` (or of a numeric uid) in passwd-format `text`, or null. */
export function userFromPasswd(name: string, text: string): { uid: number; gid: number } | null {
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4) continue;
    if (f[0] === name || (/^\d+$/.test(name) && f[2] === name)) {
      return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  }
  return /^\d+$/.test(name) ? { uid: Number(name), gid: Number(name) } : null;
}

/** File mode bits, owner and group of one path. */
export interface Stat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly isDirectory: boolean;
}

/** Whether `want` (4 read, 1 search/execute) is granted to uid/gid by `s` (no supplementary groups). */
export function permits(s: Stat, uid: number, gid: number, want: number): boolean {
  const bits = s.uid === uid ? (s.mode >> 6) & 7 : s.gid === gid ? (s.mode >> 3) & 7 : s.mode & 7;
  return (bits & want) === want;
}

function statOf(p: string): Stat | null {
  try {
    const s = Deno.statSync(p);
    return { mode: s.mode ?? 0, uid: s.uid ?? 0, gid: s.gid ?? 0, isDirectory: s.isDirectory };
  } catch {
    return null;
  }
}

/**
 * The first of `paths` (absolute) that uid/gid cannot read, as one line saying why (`/root is mode 0700 owned
 * by uid 0`), or null when all are readable: every parent folder searchable, the path readable (and
 * searchable when a folder). Only the named paths are checked, not every file below them.
 */
export function unreadableBy(
  paths: readonly string[],
  uid: number,
  gid: number,
  stat: (p: string) => Stat | null = statOf,
): string | null {
  for (const path of paths) {
    const parts = path.split("/").filter((x) => x !== "");
    for (let i = 0; i <= parts.length; i++) {
      const p = "/" + parts.slice(0, i).join("/");
      const s = stat(p);
      if (s === null) break;
      const last = i === parts.length;
      const want = last ? (s.isDirectory ? 5 : 4) : 1;
      if (!permits(s, uid, gid, want)) {
        const mode = (s.mode & 0o7777).toString(8).padStart(4, "0");
        return `${p} is mode ${mode} owned by uid ${s.uid}, so uid ${uid} cannot ${
          last ? "read" : "reach"
        } ${path}`;
      }
    }
  }
  return null;
}
