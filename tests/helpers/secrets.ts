/**
 * The no-secret-in-any-log check: every plant (tests/helpers/agent.ts) scans what its agents wrote (stderr,
 * and every file under `<data_dir>/logs/`) for its api key before its folder is removed, so every end-to-end
 * test of the suite doubles as a leak test.
 */
import { join } from "node:path";

function filesUnder(dir: string): string[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory ? filesUnder(join(dir, e.name)) : e.isFile ? [join(dir, e.name)] : []
  );
}

/** Where `secret` appears: file paths under `logDir`, and `stderr #i` for the texts given. */
export function secretLeaks(secret: string, logDir: string, texts: readonly string[]): string[] {
  const found = filesUnder(logDir).filter((f) => Deno.readTextFileSync(f).includes(secret));
  texts.forEach((t, i) => {
    if (t.includes(secret)) found.push(`stderr #${i + 1}`);
  });
  return found;
}
