/** Small tmpfs file systems for disk-full tests (Linux, root only; callers skip the test elsewhere). */

/** True on Linux as root when a tmpfs can be mounted (tried once on a throwaway folder). */
export function canMountTmpfs(): boolean {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  const dir = Deno.makeTempDirSync({ prefix: "simco-mount-probe-" });
  try {
    const ok =
      new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], stderr: "null" })
        .outputSync().success;
    if (ok) new Deno.Command("umount", { args: [dir] }).outputSync();
    return ok;
  } catch {
    return false;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Runs `mount args...`; throws with its stderr when it fails. */
export async function mount(...args: string[]): Promise<void> {
  const r = await new Deno.Command("mount", { args, stdout: "null", stderr: "piped" }).output();
  if (!r.success) throw new Error(`mount ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** Lazily unmounts `dir` (ignores "not mounted"). */
export async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: ["-l", dir], stdout: "null", stderr: "null" }).output();
}
