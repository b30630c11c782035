/**
 * The few libc entry points the Linux confinement needs, through Deno FFI (no extra binary to ship). Opened
 * lazily, once per process; every call is synchronous and therefore runs on the calling JavaScript thread,
 * which matters: Landlock and raw uid/gid changes apply to the calling thread only (see linux.ts).
 *
 * Wrappers return the raw result and, on failure, the errno (read through `__errno_location`).
 */

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  getppid: { parameters: [], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | null = null;

/** The libc symbols (dlopen of `libc.so.6` on first use). Throws where there is no glibc. */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** errno of the last failed call on this thread. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** A few errno names, for messages (the rest print as numbers). */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  14: "EFAULT",
  22: "EINVAL",
  38: "ENOSYS",
  95: "EOPNOTSUPP",
};

/** `EPERM` for 1, `errno 77` for numbers without a name here. */
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

/** Raw `syscall(nr, ...)`; returns the result or `-errno`. */
export function sys(nr: number, ...args: (number | bigint | Deno.PointerValue)[]): number {
  const a: bigint[] = [0n, 0n, 0n, 0n, 0n];
  args.forEach((v, i) => {
    a[i] = typeof v === "bigint"
      ? v
      : typeof v === "number"
      ? BigInt(v)
      : v === null
      ? 0n
      : BigInt(Deno.UnsafePointer.value(v));
  });
  const r = Number(libc().syscall(BigInt(nr), a[0], a[1], a[2], a[3], a[4]));
  return r === -1 ? -errno() : r;
}

/** A NUL-terminated C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/**
 * A NULL-terminated array of C string pointers (argv, envp). The returned `keep` holds the strings: keep it
 * referenced until the call returns.
 */
export function cstrArray(
  items: readonly string[],
): { array: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cstr);
  const array = new BigUint64Array(items.length + 1);
  keep.forEach((b, i) => array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b))));
  return { array, keep };
}
