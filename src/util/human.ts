/**
 * Numbers for people: elapsed times in at most two units (`3d4h`, `5m12s`, `12s`), counts with the right
 * plural. Used by `status`, log lines and summaries, so no message says `300000 ms` or `1 records`.
 */

const UNITS: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]];

/** Elapsed time rounded to whole seconds, two units at most: `3d4h`, `1h5m`, `5m12s`, `12s`; `0s` below 1 s. */
export function formatElapsed(ms: number): string {
  let rest = Math.max(0, Math.round(ms / 1000)) * 1000;
  const parts: string[] = [];
  for (const [u, size] of UNITS) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) {
      if (n > 0) parts.push(`${n}${u}`);
      else if (parts.length) break;
      rest -= n * size;
    }
  }
  return parts.length ? parts.join("") : "0s";
}

/** A wait for people: `0.4s`, `2.5s` below a minute (one decimal), else as {@link formatElapsed}. */
export function formatDelay(ms: number): string {
  return ms < 59_950 ? `${+(Math.max(0, ms) / 1000).toFixed(1)}s` : formatElapsed(ms);
}

/** `1 record`, `2 records` (`many` for irregular plurals). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
