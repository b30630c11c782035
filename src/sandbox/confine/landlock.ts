/**
 * Landlock (Linux >= 5.13) for a worker process: read-only access to what the runtime needs, write access to
 * one scratch folder, TCP connect to the machine's port only, no bind, and signal / abstract-unix-socket
 * scoping, degraded by ABI (what an older kernel cannot enforce is named by {@link landlockGaps}).
 *
 * The ruleset is applied with `landlock_restrict_self`, which covers the calling thread only; linux.ts calls it
 * from the launcher step and then `execve`s the real worker, whose single fresh thread inherits the domain.
 * Pure parts (access masks, struct layouts) are exported for tests; `applyLandlock` does the syscalls.
 */
import { cstr, sys } from "./libc.ts";

const SYS_CREATE_RULESET = 444;
const SYS_ADD_RULE = 445;
const SYS_RESTRICT_SELF = 446;
const CREATE_RULESET_VERSION = 1;
const RULE_PATH_BENEATH = 1;
const RULE_NET_PORT = 2;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

/** `LANDLOCK_ACCESS_FS_*` bits. */
export const FS = {
  EXECUTE: 1 << 0,
  WRITE_FILE: 1 << 1,
  READ_FILE: 1 << 2,
  READ_DIR: 1 << 3,
  REMOVE_DIR: 1 << 4,
  REMOVE_FILE: 1 << 5,
  MAKE_CHAR: 1 << 6,
  MAKE_DIR: 1 << 7,
  MAKE_REG: 1 << 8,
  MAKE_SOCK: 1 << 9,
  MAKE_FIFO: 1 << 10,
  MAKE_BLOCK: 1 << 11,
  MAKE_SYM: 1 << 12,
  REFER: 1 << 13,
  TRUNCATE: 1 << 14,
  IOCTL_DEV: 1 << 15,
} as const;

/** `LANDLOCK_ACCESS_NET_*` bits (ABI 4). */
export const NET = { BIND_TCP: 1 << 0, CONNECT_TCP: 1 << 1 } as const;

/** `LANDLOCK_SCOPE_*` bits (ABI 6). */
export const SCOPE = { ABSTRACT_UNIX_SOCKET: 1 << 0, SIGNAL: 1 << 1 } as const;

/** Rights that apply to a regular file (a rule on a file may hold only these). */
const FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV;

/** The filesystem rights an ABI knows (all of them are "handled", i.e. denied unless a rule grants them). */
export function handledFs(abi: number): number {
  let all = (1 << 13) - 1; // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) all |= FS.REFER;
  if (abi >= 3) all |= FS.TRUNCATE;
  if (abi >= 5) all |= FS.IOCTL_DEV;
  return all;
}

/** Read-only grant: read and list, and execute (the launcher's `execve` of the runtime needs it). */
export const READ_RIGHTS = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR;

/** Scratch-folder grant: read, create, write, truncate and remove files and folders (no devices, links). */
export const WRITE_RIGHTS = FS.READ_FILE | FS.READ_DIR | FS.WRITE_FILE | FS.REMOVE_DIR | FS.REMOVE_FILE |
  FS.MAKE_DIR | FS.MAKE_REG | FS.TRUNCATE;

/** What a worker's Landlock domain grants. */
export interface LandlockRules {
  /** Files or folders readable (and executable). */
  readonly read: readonly string[];
  /** Folders writable. */
  readonly write: readonly string[];
  /** TCP ports the worker may connect to (empty: none). */
  readonly connectPorts: readonly number[];
}

/** `struct landlock_ruleset_attr` for `abi`, with the size the kernel of that ABI expects. */
export function rulesetAttr(abi: number): Uint8Array<ArrayBuffer> {
  const size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(handledFs(abi)), true);
  if (abi >= 4) v.setBigUint64(8, BigInt(NET.BIND_TCP | NET.CONNECT_TCP), true);
  if (abi >= 6) v.setBigUint64(16, BigInt(SCOPE.ABSTRACT_UNIX_SOCKET | SCOPE.SIGNAL), true);
  return b;
}

/** `struct landlock_path_beneath_attr` (packed: u64 allowed_access, s32 parent_fd; 12 bytes). */
export function pathBeneathAttr(allowed: number, fd: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(allowed), true);
  v.setInt32(8, fd, true);
  return b;
}

/** `struct landlock_net_port_attr` (u64 allowed_access, u64 port; 16 bytes). */
export function netPortAttr(allowed: number, port: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(allowed), true);
  v.setBigUint64(8, BigInt(port), true);
  return b;
}

/** What a kernel with Landlock ABI `abi` (0: none) cannot enforce of the worker's rules; empty at ABI >= 6. */
export function landlockGaps(abi: number): string[] {
  if (abi <= 0) return ["filesystem", "tcp connect/bind", "signal scoping", "abstract unix socket scoping"];
  const gaps: string[] = [];
  if (abi < 3) gaps.push("file truncation");
  if (abi < 4) gaps.push("tcp connect/bind");
  if (abi < 5) gaps.push("device ioctl");
  if (abi < 6) gaps.push("signal scoping", "abstract unix socket scoping");
  return gaps;
}

/** The kernel's Landlock ABI version, or 0 when Landlock is missing or disabled. */
export function landlockAbi(): number {
  const v = sys(SYS_CREATE_RULESET, null, 0, CREATE_RULESET_VERSION);
  return v > 0 ? v : 0;
}

/**
 * Builds and enforces the ruleset on the calling thread. Paths that do not exist are skipped (returned in
 * `skipped`); any other failure throws with the path and errno. Needs no_new_privs (or CAP_SYS_ADMIN).
 */
export function applyLandlock(abi: number, rules: LandlockRules): { skipped: string[] } {
  const attr = rulesetAttr(abi);
  const ruleset = sys(SYS_CREATE_RULESET, Deno.UnsafePointer.of(attr), attr.length, 0);
  if (ruleset < 0) throw new Error(`landlock_create_ruleset failed (errno ${-ruleset})`);
  const skipped: string[] = [];
  const handled = handledFs(abi);
  try {
    const grant = (path: string, rights: number) => {
      const fd = sys(2, /* open */ Deno.UnsafePointer.of(cstr(path)), O_PATH | O_CLOEXEC, 0);
      if (fd < 0) {
        skipped.push(path);
        return;
      }
      try {
        let isDir = true;
        try {
          isDir = Deno.statSync(path).isDirectory;
        } catch {
          // Unreadable to stat: treat as a folder (file-only rights would lose nothing).
        }
        const allowed = (isDir ? rights : rights & FILE_RIGHTS) & handled;
        const a = pathBeneathAttr(allowed, fd);
        const r = sys(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, Deno.UnsafePointer.of(a), 0);
        if (r < 0) throw new Error(`landlock_add_rule for ${path} failed (errno ${-r})`);
      } finally {
        sys(3, /* close */ fd);
      }
    };
    for (const p of rules.read) grant(p, READ_RIGHTS);
    for (const p of rules.write) grant(p, WRITE_RIGHTS);
    if (abi >= 4) {
      for (const port of rules.connectPorts) {
        const a = netPortAttr(NET.CONNECT_TCP, port);
        const r = sys(SYS_ADD_RULE, ruleset, RULE_NET_PORT, Deno.UnsafePointer.of(a), 0);
        if (r < 0) throw new Error(`landlock_add_rule for tcp port ${port} failed (errno ${-r})`);
      }
    }
    const r = sys(SYS_RESTRICT_SELF, ruleset, 0);
    if (r < 0) throw new Error(`landlock_restrict_self failed (errno ${-r})`);
  } finally {
    sys(3, /* close */ ruleset);
  }
  return { skipped };
}
