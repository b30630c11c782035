/**
 * `deno task bundle`: the offline delivery. For each target writes
 * `dist/simco-agent-<version>-<target>.tar.gz|.zip`, a folder that installs by copying and runs with no
 * network: the Deno runtime from the npm registry (integrity-checked), the agent's runtime modules, their npm
 * packages pre-cached, the launchers, INSTALL.md, VERSION and SHA256SUMS. Needs only the npm registry (and
 * `tar`, `zip`). The staged folders stay in `dist/bundle/` for inspection.
 *
 * `deno run -A tools/bundle/build.ts [--out DIR] [--target linux-x64|windows-x64]...`
 */
import { join } from "node:path";
import { VERSION } from "../../src/version.ts";
import { cmdLauncher, shLauncher } from "./launchers.ts";
import {
  DENO_VERSION,
  extractRuntime,
  run,
  runtimeTarball,
  type Target,
  TARGETS,
} from "./runtime_package.ts";
import { REPO, sha256Sums, stageApp } from "./stage.ts";

/** What one target's build produced. */
export interface BuiltBundle {
  /** The target. */
  readonly target: Target;
  /** The staged folder (the archive's single top-level folder). */
  readonly folder: string;
  /** The archive. */
  readonly archive: string;
}

/** Name of a bundle's folder and archive (without extension). */
export function bundleName(target: Target): string {
  return `simco-agent-${VERSION}-${target.name}`;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(join(from, e.name), join(to, e.name));
    else if (e.isFile) await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

async function archive(target: Target, staging: string, name: string, out: string): Promise<void> {
  await Deno.remove(out).catch(() => {});
  if (target.archive === "tar.gz") {
    await run("tar", [
      "-C",
      staging,
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-czf",
      out,
      name,
    ]);
  } else {
    await run("zip", ["-q", "-r", "-X", out, name], { cwd: staging });
  }
}

/** Where runtime tarballs are kept between builds (checked again on every use). */
export const DOWNLOADS: string = join(REPO, "dist", "downloads");

/** Builds one target's bundle into `outDir`. */
export async function buildBundle(
  target: Target,
  outDir: string,
  downloads = DOWNLOADS,
): Promise<BuiltBundle> {
  const name = bundleName(target);
  const staging = join(outDir, "bundle");
  const root = join(staging, name);
  await Deno.remove(root, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(root, "runtime"), { recursive: true });

  const tgz = await runtimeTarball(target, DENO_VERSION, downloads);
  await extractRuntime(tgz, target, join(root, "runtime", target.exe));
  await stageApp(root, { version: VERSION, target: target.name, deno: DENO_VERSION });

  if (target.exe.endsWith(".exe")) {
    await Deno.writeTextFile(join(root, "simco-agent.cmd"), cmdLauncher(VERSION));
  } else {
    await Deno.writeTextFile(join(root, "simco-agent"), shLauncher(VERSION));
    await Deno.chmod(join(root, "simco-agent"), 0o755);
  }

  const install = await Deno.readTextFile(join(REPO, "tools", "bundle", "INSTALL.md"));
  await Deno.writeTextFile(
    join(root, "INSTALL.md"),
    install.replaceAll("{{VERSION}}", VERSION).replaceAll("{{DENO_VERSION}}", DENO_VERSION),
  );
  await Deno.copyFile(join(REPO, "README.md"), join(root, "README.md"));
  await copyTree(join(REPO, "examples"), join(root, "examples"));
  await Deno.writeTextFile(join(root, "VERSION"), `${VERSION}\n`);
  await Deno.writeTextFile(join(root, "SHA256SUMS"), await sha256Sums(root));

  const out = join(outDir, `${name}.${target.archive}`);
  await archive(target, staging, name, out);
  return { target, folder: root, archive: out };
}

/** Builds the bundles of `targets` (default: all) into `outDir` (default: `dist/`). */
export async function buildBundles(
  outDir: string = join(REPO, "dist"),
  targets: readonly Target[] = TARGETS,
): Promise<BuiltBundle[]> {
  if (Deno.version.deno !== DENO_VERSION) {
    throw new Error(
      `bundle: expected to run on Deno ${DENO_VERSION} (the bundled runtime), got ${Deno.version.deno}`,
    );
  }
  const built: BuiltBundle[] = [];
  for (const t of targets) built.push(await buildBundle(t, outDir));
  return built;
}

if (import.meta.main) {
  const args = [...Deno.args];
  let out = join(REPO, "dist");
  const names: string[] = [];
  while (args.length) {
    const a = args.shift()!;
    const v = args.shift();
    if (a === "--out" && v) out = v;
    else if (a === "--target" && v) names.push(v);
    else {
      console.error(
        `bundle: expected --out DIR or --target ${TARGETS.map((t) => t.name).join("|")}, got ${a}`,
      );
      Deno.exit(2);
    }
  }
  const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length) {
    console.error(
      `bundle: unknown target ${unknown[0]}; expected one of ${TARGETS.map((t) => t.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  try {
    const targets = names.length ? TARGETS.filter((t) => names.includes(t.name)) : TARGETS;
    for (const b of await buildBundles(out, targets)) {
      const size = (await Deno.stat(b.archive)).size;
      console.log(`${b.archive} (${(size / 2 ** 20).toFixed(1)} MiB)`);
    }
  } catch (e) {
    console.error(`bundle: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
