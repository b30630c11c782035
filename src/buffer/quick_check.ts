/**
 * `PRAGMA quick_check` off the main thread. It reads the whole file (about 0.5 s per million records on an
 * idle machine, several seconds under load), so running it inside `open` would make startup scale with the
 * backlog. Instead a Web Worker opens its own read-only connection (WAL readers never block the writer) and
 * reports the verdict; a damaged file is then replaced exactly as when damage is found any other way.
 *
 * The worker is a blob: module, so it needs no file on disk and works the same in the compiled binary.
 */

const SOURCE = `
import { DatabaseSync } from "node:sqlite";
self.onmessage = (e) => {
  let verdict;
  try {
    const db = new DatabaseSync(e.data.path, { readOnly: true });
    try {
      db.exec("PRAGMA busy_timeout = 10000");
      verdict = String(Object.values(db.prepare("PRAGMA quick_check(1)").get())[0]);
    } finally {
      db.close();
    }
  } catch (err) {
    verdict = "error: " + (err instanceof Error ? err.message : String(err));
  }
  self.postMessage(verdict);
};
`;

/** A running check. */
export interface QuickCheck {
  /** Stops waiting for the verdict (the worker is terminated). */
  cancel(): void;
}

/**
 * Runs quick_check on `path` in a worker and calls `onVerdict` once with `"ok"`, SQLite's first complaint,
 * or `"error: <message>"` when the check itself could not run.
 */
export function startQuickCheck(path: string, onVerdict: (verdict: string) => void): QuickCheck {
  const url = URL.createObjectURL(new Blob([SOURCE], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  URL.revokeObjectURL(url);
  let done = false;
  const finish = () => {
    done = true;
    worker.terminate();
  };
  worker.onmessage = (e: MessageEvent<string>) => {
    if (done) return;
    finish();
    onVerdict(e.data);
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    if (done) return;
    finish();
    onVerdict(`error: ${e.message}`);
  };
  worker.postMessage({ path });
  return {
    cancel() {
      if (!done) finish();
    },
  };
}
