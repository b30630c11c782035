/**
 * The tests' temporary directories: one way to make them and to remove them, whether the test holds the
 * directory in a fixture (`tempDir`, then `cleanup()`) or only inside a block (`withTempDir`).
 */

/** A temporary directory and the function that removes it (errors ignored: it may be gone already). */
export interface TempDir {
  /** Absolute path. */
  readonly path: string;
  /** Removes the directory and everything in it. */
  cleanup(): Promise<void>;
}

/** Makes a fresh temporary directory named `<prefix>XXXX`. */
export async function tempDir(prefix = "simco-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, cleanup: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever `fn` does. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T> | T, prefix?: string): Promise<T> {
  const dir = await tempDir(prefix);
  try {
    return await fn(dir.path);
  } finally {
    await dir.cleanup();
  }
}
