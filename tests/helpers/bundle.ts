/**
 * The offline bundles for the bundle tests: built once per test process with the real builder
 * (tools/bundle/build.ts, runtime tarballs from the npm registry, kept in dist/downloads), and unpacked into
 * fresh folders the way an administrator would.
 */
import { join } from "node:path";
import { buildBundle, type BuiltBundle, bundleName } from "../../tools/bundle/build.ts";
import { type Target, TARGETS } from "../../tools/bundle/runtime_package.ts";
import { run } from "../../tools/bundle/runtime_package.ts";

const built = new Map<string, Promise<BuiltBundle>>();
let outDir: Promise<string> | null = null;

/** The target named `name` (`linux-x64`, `windows-x64`). */
export function target(name: string): Target {
  const t = TARGETS.find((t) => t.name === name);
  if (!t) throw new Error(`expected a bundle target, got ${name}`);
  return t;
}

/** The bundle of target `name`, built on first use into a temporary folder (removed at exit). */
export function bundle(name: string): Promise<BuiltBundle> {
  let p = built.get(name);
  if (!p) {
    outDir ??= Deno.makeTempDir({ prefix: "simco-bundle-build-" }).then((d) => {
      globalThis.addEventListener("unload", () => Deno.removeSync(d, { recursive: true }));
      return d;
    });
    p = outDir.then((d) => buildBundle(target(name), d));
    built.set(name, p);
  }
  return p;
}

/** Unpacks `b`'s archive into `dir` (which must exist); returns the bundle folder inside it. */
export async function unpack(b: BuiltBundle, dir: string): Promise<string> {
  if (b.target.archive === "tar.gz") await run("tar", ["-xzf", b.archive, "-C", dir]);
  else await run("unzip", ["-q", b.archive, "-d", dir]);
  return join(dir, bundleName(b.target));
}

/** `path -> "size mtime mode"` of every entry under `root` (directories included), for before/after checks. */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      const st = await Deno.lstat(p);
      out.set(p, `${st.size} ${st.mtime?.getTime()} ${st.mode}`);
      if (st.isDirectory) await walk(p);
    }
  };
  await walk(root);
  return out;
}
