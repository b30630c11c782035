/**
 * Maps TOML key paths (`agent.id`, `machines[2].port`, `machines[0].options.library`) to the 1-based line
 * where they are written, so validation errors can name a line. smol-toml returns plain values without
 * positions, so this is a light scan of the text: table headers, array-of-tables headers and `key =` lines,
 * skipping multi-line strings. It only locates; the parser proper is smol-toml.
 */

const HEADER = /^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$/;
const ARRAY_HEADER = /^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?$/;
const KEY = /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=/;

function splitDotted(key: string): string[] {
  const parts: string[] = [];
  for (const m of key.matchAll(/[A-Za-z0-9_-]+|"([^"]*)"|'([^']*)'/g)) parts.push(m[1] ?? m[2] ?? m[0]);
  return parts;
}

/** Builds the key-path to line map of a TOML text. The first occurrence of a path wins. */
export function locateKeys(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table = "";
  let inMultiline: string | null = null;
  const set = (path: string, line: number) => {
    if (!lines.has(path)) lines.set(path, line);
  };
  // Resolves a dotted table name against arrays of tables seen so far: machines.options -> machines[i].options
  const resolve = (parts: string[]): string => {
    let path = "";
    let plain = "";
    for (const p of parts) {
      plain = plain ? `${plain}.${p}` : p;
      path = path ? `${path}.${p}` : p;
      const n = arrayCounts.get(plain);
      if (n !== undefined) path += `[${n - 1}]`;
    }
    return path;
  };
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    if (inMultiline) {
      if (raw.includes(inMultiline)) inMultiline = null;
      return;
    }
    let m = raw.match(ARRAY_HEADER);
    if (m) {
      const parts = splitDotted(m[1]);
      const plain = parts.join(".");
      const parent = resolve(parts.slice(0, -1));
      const n = (arrayCounts.get(plain) ?? 0) + 1;
      arrayCounts.set(plain, n);
      table = `${parent ? parent + "." : ""}${parts[parts.length - 1]}[${n - 1}]`;
      set(table, lineNo);
      return;
    }
    m = raw.match(HEADER);
    if (m) {
      table = resolve(splitDotted(m[1]));
      set(table, lineNo);
      return;
    }
    m = raw.match(KEY);
    if (m) {
      const path = [table, ...splitDotted(m[1])].filter(Boolean).join(".");
      set(path, lineNo);
      const rest = raw.slice(m[0].length);
      for (const q of ['"""', "'''"]) {
        const at = rest.indexOf(q);
        if (at >= 0 && rest.indexOf(q, at + 3) < 0) inMultiline = q;
      }
    }
  });
  return lines;
}

/** Finds the line of `path`, falling back to the nearest enclosing table that has one. */
export function lineOf(lines: Map<string, number>, path: string): number | undefined {
  let p = path;
  while (p) {
    const n = lines.get(p);
    if (n !== undefined) return n;
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return lines.get(p);
}
