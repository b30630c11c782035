/** The size on disk of the buffer (kept out of types.ts, which holds shapes only and does no I/O). */
import { statSync } from "node:fs";

/** Size of a SQLite file plus its WAL, in bytes (0 for missing parts). */
export function fileBytes(path: string): number {
  let n = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      n += statSync(p).size;
    } catch { /* absent */ }
  }
  return n;
}
