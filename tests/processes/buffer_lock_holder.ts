/**
 * Subprocess for tests/buffer_failure_test.ts: takes the data-dir lock of DIR, prints `locked` and holds it
 * until killed; with `try`, attempts the lock once and prints the error message (or `acquired`).
 *
 * Usage: deno run -A --config deno.json tests/processes/buffer_lock_holder.ts hold|try DIR
 */
import { acquireDataDirLock, DataDirLockedError } from "../../src/buffer/mod.ts";

const [mode, dir] = Deno.args;
if (mode === "hold") {
  acquireDataDirLock(dir);
  console.log("locked");
  setInterval(() => {}, 1 << 30);
} else {
  try {
    acquireDataDirLock(dir).release();
    console.log("acquired");
  } catch (e) {
    console.log(e instanceof DataDirLockedError ? e.message : `unexpected: ${e}`);
  }
}
