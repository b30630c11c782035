/**
 * Reads the project's own import statements and checks them against a layer table (tests/architecture_test.ts
 * holds the table and runs the check). Pure: sources come in as a map of path to text, so a unit check can
 * feed it a synthetic violation.
 *
 * An import is a static `import`/`export ... from "x"` (type-only when written `import type` / `export
 * type`), a dynamic `import("x")` with a string literal, or a worker entry `new URL("x.ts", import.meta.url)`.
 * Comments, template literals and regular expression literals are blanked before matching, so an import
 * written inside them (a blob worker's source, a doc example) is not one.
 */

/** One row of the layer table. */
export interface Layer {
  /** A file (`src/version.ts`), a folder (`src/engine/`), or each folder below one (`drivers/*\/`). */
  readonly path: string;
  /** A file may import files of lower layers, and any file of its own row (its own folder). */
  readonly layer: number;
  /** May be loaded by the driver worker process (the worker graph). */
  readonly worker: boolean;
}

/** The rules besides the table. */
export interface Rules {
  /** Layer table. */
  readonly layers: readonly Layer[];
  /** Entry modules of the worker process; what they load may use no `node:`/npm module. */
  readonly workerEntries: readonly string[];
  /** Files under this folder may import outside it only `import type` from {@link Rules.driverTypesFrom}. */
  readonly driversFolder: string;
  /** The one folder drivers may take types from. */
  readonly driverTypesFrom: string;
  /** The one file of a driver's folder that code outside the folder may import (its description). */
  readonly driverPublic: string;
  /** Allowed edges that break the table, each with the reason: `[from, to, why]`. */
  readonly exceptions: readonly (readonly [string, string, string])[];
}

/** One import found in a file. */
export interface Import {
  /** The specifier as written. */
  readonly spec: string;
  /** Project path it resolves to (relative specifiers), else null (`node:`, npm, URLs). */
  readonly target: string | null;
  /** `import type` / `export type`: erased at run time. */
  readonly typeOnly: boolean;
  /** 1-based line. */
  readonly line: number;
}

/** Replaces comments, template literals and regex literals by spaces (newlines kept), leaving strings. */
export function blankNonCode(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  let i = 0;
  let prev = ""; // last significant character of code
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === "/" && n === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && n === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      i = j + 1;
      prev = c;
    } else if (c === "`") {
      let j = i + 1;
      while (j < src.length && src[j] !== "`") j += src[j] === "\\" ? 2 : 1;
      blank(i, j + 1);
      i = j + 1;
      prev = "`";
    } else if (
      c === "/" &&
      (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev) || /\breturn\s*$/.test(src.slice(0, i)))
    ) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== "\n" && (inClass || src[j] !== "/")) {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") inClass = true;
        else if (src[j] === "]") inClass = false;
        j++;
      }
      blank(i, j + 1);
      i = j + 1;
      prev = "/";
    } else {
      if (!/\s/.test(c)) prev = c;
      i++;
    }
  }
  return out.join("");
}

const STATIC = /(?:^|[;}\n])[ \t]*(import|export)\s+(type\s+)?(?:[^;"'`]*?\bfrom\s*)?(["'])([^"'\n]+)\3/g;
const DYNAMIC = /\bimport\s*\(\s*(["'])([^"'\n]+)\1\s*\)/g;
const WORKER_URL = /\bnew\s+URL\s*\(\s*(["'])([^"'\n]+\.[jt]s)\1\s*,\s*import\.meta\.url\s*\)/g;

/** Normalises `a/b/../c` and `./x` segments of a project-relative path. */
export function normalise(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts.join("/");
}

/** The imports of one file (`file` is its project-relative path, used to resolve relative specifiers). */
export function importsOf(file: string, src: string): Import[] {
  const code = blankNonCode(src);
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const lineAt = (index: number) => code.slice(0, index).split("\n").length;
  const make = (spec: string, typeOnly: boolean, index: number): Import => ({
    spec,
    target: spec.startsWith(".") ? normalise(dir + spec) : null,
    typeOnly,
    line: lineAt(index),
  });
  const found: Import[] = [];
  for (const m of code.matchAll(STATIC)) {
    found.push(make(m[4], m[2] !== undefined, m.index + m[0].indexOf(m[1])));
  }
  for (const m of code.matchAll(DYNAMIC)) found.push(make(m[2], false, m.index));
  for (const m of code.matchAll(WORKER_URL)) found.push(make(m[2], false, m.index));
  return found.sort((a, b) => a.line - b.line);
}

/** The table row a project file belongs to, and its unit (the row's path with `*` expanded), or null. */
export function layerOf(layers: readonly Layer[], file: string): { row: Layer; unit: string } | null {
  let best: { row: Layer; unit: string } | null = null;
  for (const row of layers) {
    let unit: string | null = null;
    if (row.path.endsWith("*/")) {
      const base = row.path.slice(0, -2);
      const rest = file.startsWith(base) ? file.slice(base.length) : "";
      if (rest.includes("/")) unit = base + rest.slice(0, rest.indexOf("/") + 1);
    } else if (row.path.endsWith("/") ? file.startsWith(row.path) : file === row.path) {
      unit = row.path;
    }
    if (unit !== null && (best === null || unit.length > best.unit.length)) best = { row, unit };
  }
  return best;
}

/** True for test and benchmark code, which the rule does not bind. */
export function isTestCode(file: string): boolean {
  return file.endsWith("_test.ts") || file.startsWith("tests/") || file.startsWith("bench/");
}

/**
 * Checks every production file of `sources` (path -> text) against `rules`. Returns one line per violation,
 * naming the file, the line and the import; empty when the rule holds.
 */
export function checkImports(sources: ReadonlyMap<string, string>, rules: Rules): string[] {
  const problems: string[] = [];
  const graph = importGraph(sources);
  const excepted = (from: string, to: string) => rules.exceptions.some(([f, t]) => f === from && t === to);

  for (const [file, imports] of graph) {
    if (isTestCode(file)) continue;
    const own = layerOf(rules.layers, file);
    if (!own) {
      problems.push(
        `${file}: not in the layer table (tests/architecture_test.ts): add its folder with a layer`,
      );
      continue;
    }
    for (const imp of imports) {
      const where = `${file}:${imp.line}: import "${imp.spec}"`;
      if (imp.target === null) continue; // node:, npm: and bare packages: checked for the worker graph only
      if (excepted(file, imp.target)) continue;
      if (file.startsWith(rules.driversFolder) && !imp.target.startsWith(rules.driversFolder)) {
        if (!imp.typeOnly || !imp.target.startsWith(rules.driverTypesFrom)) {
          problems.push(`${where}: a driver imports only types (import type) from ${rules.driverTypesFrom}`);
        }
        continue;
      }
      const to = layerOf(rules.layers, imp.target);
      if (
        to && to.unit !== own.unit && to.row.path.endsWith("*/") &&
        imp.target !== to.unit + rules.driverPublic
      ) {
        problems.push(`${where}: outside ${to.unit} only its ${rules.driverPublic} may be imported`);
      } else if (!to) {
        problems.push(`${where}: ${imp.target} is not in the layer table: add its folder with a layer`);
      } else if (to.unit !== own.unit && to.row.layer >= own.row.layer) {
        problems.push(
          `${where}: ${own.unit} (layer ${own.row.layer}) may import only lower layers, ` +
            `${to.unit} is layer ${to.row.layer}`,
        );
      }
    }
  }

  // The worker graph: what the worker process loads at run time.
  for (const [file, by] of workerGraph(graph, rules.workerEntries)) {
    const row = layerOf(rules.layers, file);
    if (row && !row.row.worker) {
      problems.push(`${by}: imports ${file}, which the worker graph must not load (${row.unit})`);
    }
    for (const imp of graph.get(file) ?? []) {
      if (!imp.typeOnly && imp.target === null) {
        problems.push(
          `${file}:${imp.line}: import "${imp.spec}": the worker graph (from ${
            rules.workerEntries.join(", ")
          }) ` +
            `loads no node: or npm module`,
        );
      }
    }
  }
  return problems;
}

/** The files `entries` load at run time (type-only imports erased), each with where it was first imported. */
export function workerGraph(
  graph: ReadonlyMap<string, readonly Import[]>,
  entries: readonly string[],
): Map<string, string> {
  const importedBy = new Map<string, string>(entries.map((e) => [e, "the worker process"]));
  const todo = [...entries];
  while (todo.length) {
    const file = todo.pop()!;
    for (const imp of graph.get(file) ?? []) {
      if (imp.typeOnly || imp.target === null || !/\.[jt]s$/.test(imp.target) || importedBy.has(imp.target)) {
        continue;
      }
      importedBy.set(imp.target, `${file}:${imp.line}`);
      todo.push(imp.target);
    }
  }
  return importedBy;
}

/** The imports of every file of `sources`. */
export function importGraph(sources: ReadonlyMap<string, string>): Map<string, Import[]> {
  return new Map([...sources].map(([file, text]) => [file, importsOf(file, text)]));
}
