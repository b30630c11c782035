/**
 * The worker process's module graph stays small: no `node:` or `npm:` modules (loading Node compatibility
 * costs ~1.3 MiB PSS per machine, see docs/worker-protocol.md), and no CLI. Follows the static, non-type
 * imports of the worker's entry modules.
 */
import { assertEquals } from "../../tests/assert.ts";

const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^"';]*?\bfrom\s*)?["']([^"']+)["']/gm;

async function graph(entries: URL[]): Promise<Map<string, string[]>> {
  const seen = new Map<string, string[]>();
  const todo = [...entries];
  while (todo.length) {
    const url = todo.pop()!;
    if (seen.has(url.href)) continue;
    const text = await Deno.readTextFile(url);
    const specs = [...text.matchAll(IMPORT)].map((m) => m[1]);
    seen.set(url.href, specs);
    for (const s of specs) if (s.startsWith(".")) todo.push(new URL(s, url));
  }
  return seen;
}

Deno.test("worker graph: worker_main.ts and driver_host.ts import no node:/npm: modules and not the CLI", async () => {
  const g = await graph([
    new URL("./worker_main.ts", import.meta.url),
    new URL("./driver_host.ts", import.meta.url),
  ]);
  const bad: string[] = [];
  for (const [file, specs] of g) {
    for (const s of specs) {
      if (/^(node|npm|jsr|https?):/.test(s) || s.includes("/cli/")) {
        bad.push(`${file.split("/src/").pop()}: ${s}`);
      }
    }
  }
  assertEquals(bad, []);
  // The graph really was followed (protocol.ts is reached from worker_main.ts), and no driver module
  // is part of it: each worker loads only its own machine's driver, as its Web Worker's entry.
  assertEquals([...g.keys()].some((f) => f.endsWith("src/sandbox/protocol.ts")), true);
  assertEquals([...g.keys()].filter((f) => /drivers\/(?!types\.ts)/.test(f)), []);
});

Deno.test("agent graph: the CLI reaches driver descriptions and the registry, never a driver's code", async () => {
  const g = await graph([new URL("../cli/mod.ts", import.meta.url)]);
  const files = [...g.keys()].filter((f) => f.includes("/drivers/")).map((f) => f.split("/drivers/").pop()!);
  assertEquals(files.includes("registry.ts"), true);
  assertEquals(files.filter((f) => !/^(registry|types|[a-z0-9_]+\/description)\.ts$/.test(f)), []);
});
