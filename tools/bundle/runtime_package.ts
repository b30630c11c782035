/**
 * The Deno runtime for a bundle target, from the npm registry (`@deno/linux-x64-glibc`, `@deno/win32-x64`):
 * the only download `deno task bundle` makes besides the npm dependencies. The tarball is checked against the
 * registry's `dist.integrity` (sha512) before anything in it is used, and kept in a download folder so a second
 * build does not fetch it again (it is checked again then).
 */
import { join } from "node:path";

/** One platform a bundle is built for. */
export interface Target {
  /** Name in the archive file name: `linux-x64`, `windows-x64`. */
  readonly name: string;
  /** npm package holding that platform's `deno` executable. */
  readonly npmPackage: string;
  /** The executable's file name inside the package and in the bundle's `runtime/` folder. */
  readonly exe: string;
  /** Archive format. */
  readonly archive: "tar.gz" | "zip";
}

/** Every target `deno task bundle` builds. */
export const TARGETS: readonly Target[] = [
  { name: "linux-x64", npmPackage: "@deno/linux-x64-glibc", exe: "deno", archive: "tar.gz" },
  { name: "windows-x64", npmPackage: "@deno/win32-x64", exe: "deno.exe", archive: "zip" },
];

/** The pinned Deno version (the one CI and the README use). The builder must run on it too. */
export const DENO_VERSION = "2.9.6";

/** The registry Deno and npm use (`NPM_CONFIG_REGISTRY`, else registry.npmjs.org), without a trailing slash. */
export function registryUrl(): string {
  return (Deno.env.get("NPM_CONFIG_REGISTRY") ?? "https://registry.npmjs.org").replace(/\/+$/, "");
}

/** `sha512-<base64>` of `bytes`, the format of npm's `dist.integrity`. */
export async function sha512Integrity(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", bytes));
  return "sha512-" + btoa(String.fromCharCode(...digest));
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url}: expected HTTP 200, got ${res.status} ${res.statusText}`);
  }
  return res;
}

/** `dist.tarball` and `dist.integrity` of `pkg@version` from the registry. */
export async function packageDist(
  pkg: string,
  version: string,
): Promise<{ tarball: string; integrity: string }> {
  const url = `${registryUrl()}/${pkg.replace("/", "%2f")}/${version}`;
  const meta = await (await fetchOk(url)).json();
  const tarball = meta?.dist?.tarball;
  const integrity = meta?.dist?.integrity;
  if (typeof tarball !== "string" || typeof integrity !== "string" || !integrity.startsWith("sha512-")) {
    throw new Error(
      `${url}: expected dist.tarball and a sha512 dist.integrity, got ${JSON.stringify(meta?.dist)}`,
    );
  }
  return { tarball, integrity };
}

/**
 * The verified tarball of `target`'s runtime package at `version`, downloaded into `downloads` unless a copy
 * with the registry's integrity is already there. Throws when the registry's checksum does not match.
 */
export async function runtimeTarball(target: Target, version: string, downloads: string): Promise<string> {
  const { tarball, integrity } = await packageDist(target.npmPackage, version);
  await Deno.mkdir(downloads, { recursive: true });
  const file = join(downloads, `${target.npmPackage.replace("/", "+")}-${version}.tgz`);
  try {
    if (await sha512Integrity(await Deno.readFile(file)) === integrity) return file;
  } catch { /* not downloaded yet */ }
  const bytes = new Uint8Array(await (await fetchOk(tarball)).arrayBuffer());
  const got = await sha512Integrity(bytes);
  if (got !== integrity) {
    throw new Error(`${tarball}: expected integrity ${integrity} (registry), got ${got}`);
  }
  await Deno.writeFile(file, bytes);
  return file;
}

/** Extracts `package/<exe>` of a runtime tarball to `dest` (a file path), executable. */
export async function extractRuntime(tgz: string, target: Target, dest: string): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "simco-bundle-rt-" });
  try {
    await run("tar", ["-xzf", tgz, "-C", tmp, `package/${target.exe}`]);
    await Deno.copyFile(join(tmp, "package", target.exe), dest);
    await Deno.chmod(dest, 0o755);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Runs a command to completion; throws with its stderr when it fails. */
export async function run(cmd: string, args: string[], opts: Deno.CommandOptions = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { ...opts, args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout);
}
