/**
 * A driver's native library (`options.<libraryOption>`) must be a regular file, and the sandbox grants read
 * and FFI access to its resolved path, not to whatever the configured path points at later: `library =
 * "/etc"` would otherwise grant read access to a whole folder, and a symlink could be re-pointed. Used by
 * `check` and `run` through src/config/load.ts (so both report it, naming the key) and again by the sandbox
 * when it starts a worker (src/sandbox/machine_worker.ts).
 *
 * A path that does not exist (yet) is not refused here: a configuration may be checked before the vendor
 * library is installed (the drivers' samples are), and the driver itself says which library it needs when it
 * cannot load it. Its grant then covers that one path and nothing else.
 */

/**
 * Resolves `path` to its real path (or keeps it when nothing is there); refuses what exists but is not a
 * regular file, with one line saying what it is.
 */
export function resolveLibraryFile(path: string): { path: string } | { problem: string } {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { path };
    return { problem: `cannot resolve ${path}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const info = Deno.statSync(real);
  if (!info.isFile) {
    const what = info.isDirectory ? "a directory" : "not a regular file";
    return { problem: `expected a native library file, got ${what}: ${real}` };
  }
  return { path: real };
}
