/**
 * The dependency rule of docs/architecture.md, enforced on the project's own import statements:
 *
 *   cli -> engine -> sandbox / buffer / uplink -> record / config types / log / util;
 *   drivers import only record types (and their own files, npm packages); nothing imports cli but main.ts;
 *   the worker graph (src/sandbox/worker_main.ts, driver_host.ts and what they load) imports no `node:` or
 *   npm module, no engine code and no driver; outside its folder, only a driver's description.ts is
 *   imported (a driver's code runs only in the Web Worker of a machine that uses it).
 *
 * A file may import any file of a lower layer and any file of its own row (its own folder); never a peer or
 * a higher layer. Test and benchmark code (`*_test.ts`, tests/, bench/) is not bound. A new folder is one
 * line in LAYERS; a file in no row fails the test with a message saying to add it.
 */
import { assertEquals } from "./assert.ts";
import { checkImports, importGraph, type Layer, type Rules, workerGraph } from "./helpers/import_graph.ts";

/** The layer table: lower numbers are imported by higher ones, never the reverse. */
export const LAYERS: readonly Layer[] = [
  // path                          layer  may the driver worker process load it?
  { path: "src/record/", layer: 0, worker: true }, // the record's shape, validator and id (mod.ts: node:crypto)
  { path: "src/config/types.ts", layer: 0, worker: true }, // the parsed configuration's shapes
  { path: "src/util/", layer: 0, worker: true }, // small pure helpers
  { path: "src/version.ts", layer: 0, worker: true },
  { path: "src/runtime.ts", layer: 0, worker: false }, // how to start another copy of this program
  { path: "drivers/types.ts", layer: 1, worker: true }, // the driver interface
  { path: "src/wire/", layer: 1, worker: false }, // the ingest wire protocol (uplink and ingest)
  { path: "src/datadir/", layer: 1, worker: false }, // the data dir's layout, lock, status.json, atomic writes
  { path: "src/log/", layer: 2, worker: false }, // logging (npm @logtape); file names from src/datadir/
  { path: "drivers/*/", layer: 2, worker: false }, // one folder per driver (its mod.ts: only its Web Worker)
  { path: "drivers/registry.ts", layer: 3, worker: false }, // the driver registry: descriptions and module URLs
  { path: "src/sandbox/", layer: 4, worker: true }, // driver worker processes
  { path: "src/buffer/", layer: 4, worker: false }, // the SQLite buffer
  { path: "src/uplink/", layer: 4, worker: false }, // upload to the ingest
  { path: "src/engine/", layer: 5, worker: false }, // the agent: scheduling, supervision, run and drain
  { path: "src/offline/", layer: 5, worker: false }, // export / upload files
  { path: "src/ingest/", layer: 5, worker: false }, // the reference ingest (the cloud's stand-in)
  { path: "src/config/", layer: 6, worker: false }, // reading machines.toml (checks options with the registry)
  { path: "src/demo/", layer: 7, worker: false }, // simulated plant + local ingest
  { path: "src/cli/", layer: 8, worker: false }, // commands
  { path: "main.ts", layer: 9, worker: false }, // entry: the CLI or a driver worker
];

/** The table plus the rules it cannot express. */
export const RULES: Rules = {
  layers: LAYERS,
  workerEntries: ["src/sandbox/worker_main.ts", "src/sandbox/driver_host.ts"],
  driversFolder: "drivers/",
  driverTypesFrom: "src/record/",
  driverPublic: "description.ts",
  exceptions: [
    ["src/runtime.ts", "main.ts", "names the entry file to start a child process with; never loads it"],
  ],
};

/** Every .ts file of the project, path relative to the root, with its text. */
async function projectSources(): Promise<Map<string, string>> {
  const root = new URL("../", import.meta.url);
  const out = new Map<string, string>();
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(new URL(rel, root))) {
      const path = rel + e.name;
      if (e.isDirectory && !["node_modules", "dist", "fixtures", ".git"].includes(e.name)) {
        await walk(path + "/");
      } else if (e.isFile && e.name.endsWith(".ts")) {
        out.set(path, await Deno.readTextFile(new URL(path, root)));
      }
    }
  };
  for (const dir of ["src/", "drivers/", "tests/", "bench/"]) await walk(dir);
  out.set("main.ts", await Deno.readTextFile(new URL("main.ts", root)));
  return out;
}

Deno.test("architecture: every import of the project follows the dependency rule", async () => {
  const sources = await projectSources();
  assertEquals(checkImports(sources, RULES), []);
  // The walk really saw the project: the worker graph follows the worker entry (new URL) and stops at
  // type-only imports (drivers/types.ts); the CLI reaches the driver registry and descriptions.
  const graph = importGraph(sources);
  const loaded = workerGraph(graph, RULES.workerEntries);
  assertEquals(loaded.has("src/sandbox/driver_host.ts") && loaded.has("src/sandbox/protocol.ts"), true);
  assertEquals([...loaded.keys()].filter((f) => f.startsWith("drivers/") || f === "src/record/mod.ts"), []);
  const agent = workerGraph(graph, ["src/cli/mod.ts"]);
  assertEquals(agent.has("drivers/registry.ts") && agent.has("drivers/simulator/description.ts"), true);
});

Deno.test("architecture: synthetic violations are reported with file, line and import", () => {
  const sources = new Map([
    ["main.ts", 'import { main } from "./src/cli/mod.ts";\n'],
    ["src/cli/mod.ts", "export const main = 1;\n"],
    ["src/engine/agent.ts", 'import type { X } from "../cli/mod.ts";\n'],
    [
      "src/uplink/mod.ts",
      'import { drain } from "../engine/agent.ts";\nimport { b } from "../buffer/mod.ts";\n',
    ],
    ["src/buffer/mod.ts", "export const b = 1;\n"],
    ["src/record/mod.ts", 'import { createHash } from "node:crypto";\n'],
    [
      "src/sandbox/worker_main.ts",
      'const w = new Worker(new URL("./driver_host.ts", import.meta.url));\nawait import("../engine/agent.ts");\n',
    ],
    [
      "src/sandbox/driver_host.ts",
      'import { REGISTRY } from "../../drivers/registry.ts";\nimport "node:path";\n',
    ],
    ["drivers/registry.ts", 'import { D } from "./sim/description.ts";\n'],
    ["drivers/sim/description.ts", 'import { x } from "../other/mod.ts";\n'],
    ["drivers/sim/mod.ts", 'import { recordId } from "../../src/record/mod.ts";\n'],
    ["drivers/other/mod.ts", "export const x = 1;\n"],
    ["src/config/parse.ts", 'import { SimDriver } from "../../drivers/sim/mod.ts";\n'],
    ["src/newthing/mod.ts", "export {};\n"],
    [
      "src/buffer/quick_check.ts",
      '// import { a } from "../cli/mod.ts";\nconst S = `import x from "../cli/mod.ts"`;\nconst r = /"/;\n',
    ],
    ["src/buffer/mod_test.ts", 'import { main } from "../cli/mod.ts";\n'],
  ]);
  assertEquals(
    checkImports(sources, RULES).sort(),
    [
      'src/engine/agent.ts:1: import "../cli/mod.ts": src/engine/ (layer 5) may import only lower layers, ' +
      "src/cli/ is layer 8",
      'src/uplink/mod.ts:1: import "../engine/agent.ts": src/uplink/ (layer 4) may import only lower layers, ' +
      "src/engine/ is layer 5",
      'src/uplink/mod.ts:2: import "../buffer/mod.ts": src/uplink/ (layer 4) may import only lower layers, ' +
      "src/buffer/ is layer 4",
      'drivers/sim/mod.ts:1: import "../../src/record/mod.ts": a driver imports only types (import type) ' +
      "from src/record/",
      "src/newthing/mod.ts: not in the layer table (tests/architecture_test.ts): add its folder with a layer",
      'src/sandbox/worker_main.ts:2: import "../engine/agent.ts": src/sandbox/ (layer 4) may import only lower ' +
      "layers, src/engine/ is layer 5",
      "src/sandbox/worker_main.ts:2: imports src/engine/agent.ts, which the worker graph must not load (src/engine/)",
      "src/sandbox/driver_host.ts:1: imports drivers/registry.ts, which the worker graph must not load " +
      "(drivers/registry.ts)",
      'src/sandbox/driver_host.ts:2: import "node:path": the worker graph (from src/sandbox/worker_main.ts, ' +
      "src/sandbox/driver_host.ts) loads no node: or npm module",
      "drivers/registry.ts:1: imports drivers/sim/description.ts, which the worker graph must not load (drivers/sim/)",
      'drivers/sim/description.ts:1: import "../other/mod.ts": outside drivers/other/ only its description.ts ' +
      "may be imported",
      "drivers/sim/description.ts:1: imports drivers/other/mod.ts, which the worker graph must not load " +
      "(drivers/other/)",
      'src/config/parse.ts:1: import "../../drivers/sim/mod.ts": outside drivers/sim/ only its description.ts ' +
      "may be imported",
    ].sort(),
  );
});
