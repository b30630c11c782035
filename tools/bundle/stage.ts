/**
 * Staging one bundle folder: the agent's runtime modules (no tests, no benches), a deno.json reduced to what
 * runs, the lockfile, and a Deno cache holding only the npm packages, with placeholders that keep Deno from
 * writing its other caches into the (possibly read-only, possibly root-owned) bundle folder.
 */
import { dirname, join, relative, sep as SEPARATOR } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE_MARKER } from "../../src/runtime.ts";
import { run } from "./runtime_package.ts";

/** The repository root. */
export const REPO: string = fileURLToPath(new URL("../..", import.meta.url));

/** Top-level entries of the repository that make up the agent at run time. */
const APP_ROOTS = ["main.ts", "src", "drivers"];

/**
 * Deno's caches other than npm, by the name it gives them inside DENO_DIR. Each is shipped as a directory
 * (for the SQLite ones) or a file (`gen`, where transpiled modules would go), so that opening or creating it
 * fails and Deno falls back to memory even when the folder is writable (an administrator running the agent).
 */
export const CACHE_PLACEHOLDERS: readonly { name: string; kind: "dir" | "file" }[] = [
  { name: "dep_analysis_cache_v2", kind: "dir" },
  { name: "node_analysis_cache_v2", kind: "dir" },
  { name: "v8_code_cache_v2", kind: "dir" },
  { name: "fast_check_cache_v2", kind: "dir" },
  { name: "check_cache_v2", kind: "dir" },
  { name: "gen", kind: "file" },
  { name: "remote", kind: "file" },
  { name: "latest.txt", kind: "dir" },
];

const PLACEHOLDER_NOTE =
  "Placeholder: keeps Deno from writing this cache into the bundle folder (INSTALL.md).\n";

/** True for files that are tests, benches or test data rather than code the agent runs. */
export function isTestFile(rel: string): boolean {
  const parts = rel.split(/[\\/]/);
  return /_test\.ts$/.test(rel) || parts.some((p) => p === "tests" || p === "testdata" || p === "bench");
}

async function walk(dir: string, out: string[]): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await walk(p, out);
    else if (e.isFile) out.push(p);
  }
}

/** Repository-relative paths (with `/`) of every runtime module and file under APP_ROOTS, sorted. */
export async function appFiles(): Promise<string[]> {
  const all: string[] = [];
  for (const r of APP_ROOTS) {
    const p = join(REPO, r);
    if ((await Deno.stat(p)).isDirectory) await walk(p, all);
    else all.push(p);
  }
  return all.map((p) => relative(REPO, p).split(SEPARATOR).join("/")).filter((r) => !isTestFile(r)).sort();
}

const BARE = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'./][^"']*)["']/g;

/** The import-map keys of `imports` that `sources` use (bare specifiers, exact or with a sub-path). */
export function usedImports(imports: Record<string, string>, sources: string[]): Record<string, string> {
  const specs = new Set(sources.flatMap((s) => [...s.matchAll(BARE)].map((m) => m[1])));
  const used = Object.entries(imports).filter(([k]) =>
    [...specs].some((s) => s === k || s.startsWith(k.endsWith("/") ? k : `${k}/`))
  );
  return Object.fromEntries(used);
}

/**
 * Copies the runtime modules into `<root>/app`, writes its deno.json (the repository's `nodeModulesDir` and the
 * imports the modules use) and marker, and fills `<root>/cache` with their npm packages through `deno cache`
 * (which also prunes the copied lockfile to those packages). Returns the app's files, relative to `app/`.
 */
export async function stageApp(root: string, meta: Record<string, string>): Promise<string[]> {
  const app = join(root, "app");
  const files = await appFiles();
  const sources: string[] = [];
  for (const rel of files) {
    await Deno.mkdir(dirname(join(app, rel)), { recursive: true });
    await Deno.copyFile(join(REPO, rel), join(app, rel));
    if (rel.endsWith(".ts")) sources.push(await Deno.readTextFile(join(REPO, rel)));
  }
  const cfg = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  const denoJson = { nodeModulesDir: cfg.nodeModulesDir, imports: usedImports(cfg.imports ?? {}, sources) };
  await Deno.writeTextFile(join(app, "deno.json"), JSON.stringify(denoJson, null, 2) + "\n");
  await Deno.copyFile(join(REPO, "deno.lock"), join(app, "deno.lock"));
  await Deno.writeTextFile(join(app, BUNDLE_MARKER), JSON.stringify(meta, null, 2) + "\n");

  const cache = join(root, "cache");
  const modules = files.filter((f) => f.endsWith(".ts")).map((f) => join(app, f));
  await run(Deno.execPath(), ["cache", "--config", join(app, "deno.json"), ...modules], {
    env: { DENO_DIR: cache, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  });
  // Only the npm packages are portable (the rest is keyed by absolute path or is machine-local).
  for await (const e of Deno.readDir(cache)) {
    if (e.name !== "npm") await Deno.remove(join(cache, e.name), { recursive: true });
  }
  for (const { name, kind } of CACHE_PLACEHOLDERS) {
    if (kind === "dir") {
      await Deno.mkdir(join(cache, name));
      await Deno.writeTextFile(join(cache, name, "README.txt"), PLACEHOLDER_NOTE);
    } else {
      await Deno.writeTextFile(join(cache, name), PLACEHOLDER_NOTE);
    }
  }
  return [...files, "deno.json", "deno.lock", BUNDLE_MARKER];
}

/** Every file under `root`, relative with `/`, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const all: string[] = [];
  await walk(root, all);
  return all.map((p) => relative(root, p).split(SEPARATOR).join("/")).sort();
}

/** `SHA256SUMS` text (`sha256sum -c` format) of every file under `root` except SHA256SUMS itself. */
export async function sha256Sums(root: string): Promise<string> {
  const lines: string[] = [];
  for (const rel of await listFiles(root)) {
    if (rel === "SHA256SUMS") continue;
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", await Deno.readFile(join(root, rel))),
    );
    lines.push(`${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}  ${rel}`);
  }
  return lines.join("\n") + "\n";
}
