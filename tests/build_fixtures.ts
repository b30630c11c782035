/**
 * Builds the C test fixtures (fake native libraries called through real FFI) into tests/fixtures/build/.
 * Run by `deno task test` before the suite. Each `tests/fixtures/c/<name>.c` becomes
 * `tests/fixtures/build/lib<name>.so` (Linux) or `<name>.dll` (Windows, with gcc from MinGW on PATH).
 * {@link VARIANTS} lists extra builds of one source with preprocessor flags. Rebuilds only when the source is newer
 * than the library.
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("./fixtures/", import.meta.url));
const srcDir = join(root, "c");
const outDir = join(root, "build");

/** Extra libraries built from one source with `-D` flags: library name -> source file and flags. */
export const VARIANTS: Readonly<Record<string, { source: string; flags: readonly string[] }>> = {
  // The fake FOCAS2 library without its optional symbols (cnc_startupprocess, cnc_settimeout, cnc_rdspmeter...).
  fake_focas_minimal: { source: "fake_focas.c", flags: ["-DFAKE_NO_OPTIONAL"] },
  // Without a required symbol (cnc_rdalmmsg2): the driver must refuse it, naming the symbol.
  fake_focas_incomplete: { source: "fake_focas.c", flags: ["-DFAKE_NO_RDALMMSG2"] },
};

/** Path of the built library for fixture `name` on this OS. */
export function fixtureLibrary(name: string): string {
  return join(outDir, Deno.build.os === "windows" ? `${name}.dll` : `lib${name}.so`);
}

async function mtime(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return -1;
  }
}

if (import.meta.main) {
  await Deno.mkdir(outDir, { recursive: true });
  const sources: string[] = [];
  try {
    for await (const e of Deno.readDir(srcDir)) if (e.isFile && e.name.endsWith(".c")) sources.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const builds: [string, string, readonly string[]][] = sources.sort().map((f) => [basename(f, ".c"), f, []]);
  for (const [name, v] of Object.entries(VARIANTS)) builds.push([name, v.source, v.flags]);
  for (const [name, file, flags] of builds) {
    const src = join(srcDir, file);
    const out = fixtureLibrary(name);
    if (await mtime(out) >= await mtime(src)) continue;
    const { code, stderr } = await new Deno.Command("gcc", {
      args: ["-shared", "-fPIC", "-O1", ...flags, "-o", out, src],
      stderr: "piped",
    }).output();
    if (code !== 0) {
      console.error(`build_fixtures: gcc failed for ${file}:\n${new TextDecoder().decode(stderr)}`);
      Deno.exit(1);
    }
    console.error(`build_fixtures: built ${out}`);
  }
}
