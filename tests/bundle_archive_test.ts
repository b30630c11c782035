/**
 * What the two bundle archives contain, checked after unpacking them with the ordinary tools (tar, unzip):
 * every file a plant engineer needs and nothing that does not run (tests, benches), SHA256SUMS true, the runtime
 * the pinned Deno release for that platform (byte for byte the integrity-checked registry package, and an x86-64
 * PE or ELF executable), and the launcher passing exactly RUNTIME_FLAGS + OFFLINE_FLAGS with the bundle's cache.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { bundle, unpack } from "./helpers/bundle.ts";
import { DOWNLOADS } from "../tools/bundle/build.ts";
import { launcherFlags } from "../tools/bundle/launchers.ts";
import { DENO_VERSION, extractRuntime, runtimeTarball, TARGETS } from "../tools/bundle/runtime_package.ts";
import { listFiles, sha256Sums } from "../tools/bundle/stage.ts";
import { OFFLINE_FLAGS, RUNTIME_FLAGS } from "../src/runtime.ts";
import { VERSION } from "../src/version.ts";

const hasTools = ["tar", "unzip"].every((t) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${t}`], stdout: "null" }).outputSync().success
);
if (!hasTools) console.warn("bundle_archive_test: skipped: tar and unzip are needed to unpack the archives");

/** Machine type of an x86-64 executable: PE (`MZ`, `PE\0\0`, 0x8664) or ELF (`\x7fELF`, EM_X86_64 = 62). */
function executableKind(b: Uint8Array): string {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b[0] === 0x4d && b[1] === 0x5a) {
    const pe = v.getUint32(0x3c, true);
    const sig = String.fromCharCode(...b.subarray(pe, pe + 4));
    return sig === "PE\0\0" && v.getUint16(pe + 4, true) === 0x8664 ? "pe-x86-64" : "pe-other";
  }
  if (String.fromCharCode(...b.subarray(0, 4)) === "\x7fELF") {
    return v.getUint16(18, true) === 62 ? "elf-x86-64" : "elf-other";
  }
  return "unknown";
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (x) => x.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** deno.json imports only tests use: not part of a bundle. */
const TEST_ONLY_IMPORTS = ["fast-check", "parse-prometheus-text-format"];

for (const target of TARGETS) {
  const windows = target.exe.endsWith(".exe");
  Deno.test({
    name: `${target.name} bundle archive: files, SHA256SUMS, pinned ${
      windows ? "PE" : "ELF"
    } runtime, launcher flags`,
    ignore: !hasTools,
    async fn() {
      const b = await bundle(target.name);
      const dir = await Deno.makeTempDir({ prefix: "simco-bundle-archive-" });
      try {
        const root = await unpack(b, dir);
        const files = await listFiles(root);
        const launcher = windows ? "simco-agent.cmd" : "simco-agent";
        for (
          const f of [
            launcher,
            `runtime/${target.exe}`,
            "INSTALL.md",
            "README.md",
            "VERSION",
            "SHA256SUMS",
            "examples/machines.toml",
            "app/main.ts",
            "app/deno.json",
            "app/deno.lock",
            "app/bundle.json",
            "app/src/sandbox/worker_main.ts",
            "app/drivers/simulator/mod.ts",
            "cache/npm/registry.npmjs.org/smol-toml/1.9.1/package.json",
            "cache/npm/registry.npmjs.org/@logtape/file/2.3.10/package.json",
          ]
        ) assert(files.includes(f), `${f} missing from ${b.archive}`);
        assert(!files.includes(windows ? "simco-agent" : "simco-agent.cmd"), "the other platform's launcher");
        assertEquals(
          files.filter((f) => /_test\.ts$|(^|\/)(tests|bench)\//.test(f)),
          [],
          "tests or benches shipped",
        );
        assertEquals(files.filter((f) => f.startsWith("cache/npm/") && f.includes("fast-check")), []);
        assertEquals(await Deno.readTextFile(join(root, "VERSION")), `${VERSION}\n`);
        assertEquals(await Deno.readTextFile(join(root, "SHA256SUMS")), await sha256Sums(root));
        assertStringIncludes(
          await Deno.readTextFile(join(root, "INSTALL.md")),
          `SIMCO Edge Agent ${VERSION}`,
        );
        const cfg = JSON.parse(await Deno.readTextFile(join(root, "app/deno.json")));
        // Every import of the repository's deno.json except the test-only fast-check and
        // parse-prometheus-text-format (the metrics tests' independent parser).
        const repoCfg = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
        assertEquals(
          Object.keys(cfg.imports).sort(),
          Object.keys(repoCfg.imports).filter((k) => !TEST_ONLY_IMPORTS.includes(k)).sort(),
        );
        const marker = JSON.parse(await Deno.readTextFile(join(root, "app/bundle.json")));
        assertEquals(marker, { version: VERSION, target: target.name, deno: DENO_VERSION });

        // The runtime is the registry's package for this platform, at the pinned version.
        const exe = await Deno.readFile(join(root, "runtime", target.exe));
        assertEquals(executableKind(exe), windows ? "pe-x86-64" : "elf-x86-64");
        const reference = join(dir, "reference");
        await extractRuntime(await runtimeTarball(target, DENO_VERSION, DOWNLOADS), target, reference);
        assertEquals(await sha256(exe), await sha256(await Deno.readFile(reference)));

        // The launcher: exactly the runtime flags plus the offline ones, the bundle's own cache and modules.
        assertEquals(launcherFlags(), [...RUNTIME_FLAGS, ...OFFLINE_FLAGS]);
        const text = await Deno.readTextFile(join(root, launcher));
        if (windows) {
          assertEquals(text.split("\r\n").length, text.split("\n").length, "CRLF line ends");
          assertStringIncludes(text, 'set "DENO_DIR=%~dp0cache"');
          assertStringIncludes(
            text,
            `"%~dp0runtime\\deno.exe" run ${launcherFlags().join(" ")} --config "%~dp0app\\deno.json" ` +
              `"%~dp0app\\main.ts" %*\r\n`,
          );
        } else {
          assert(
            ((await Deno.stat(join(root, launcher))).mode! & 0o111) === 0o111,
            "launcher not executable",
          );
          assertStringIncludes(text, 'DENO_DIR="$root/cache"');
          assertStringIncludes(
            text,
            `exec "$root/runtime/deno" run ${launcherFlags().join(" ")} --config "$root/app/deno.json" ` +
              `"$root/app/main.ts" "$@"\n`,
          );
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
