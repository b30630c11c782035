/** classifySqliteError against the messages real SQLite (node:sqlite) produces for each failure. */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assertEquals } from "../../tests/assert.ts";
import { classifySqliteError, DataDirLockedError } from "./errors.ts";

function failure(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected SQLite to fail");
}

Deno.test("classifySqliteError: full, read-only, not a database, malformed, constraint", () => {
  const dir = Deno.makeTempDirSync({ prefix: "simco-errors-" });
  try {
    const path = join(dir, "x.db");
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE t(x TEXT UNIQUE); PRAGMA max_page_count = 2;");
    const full = failure(() => db.prepare("INSERT INTO t VALUES (?)").run("x".repeat(20000)));
    assertEquals(classifySqliteError(full), "storage");
    db.prepare("PRAGMA max_page_count = 100000").get();
    db.prepare("INSERT INTO t VALUES ('a')").run();
    assertEquals(classifySqliteError(failure(() => db.prepare("INSERT INTO t VALUES ('a')").run())), "other");
    db.close();

    const ro = new DatabaseSync(path, { readOnly: true });
    assertEquals(classifySqliteError(failure(() => ro.exec("INSERT INTO t VALUES ('b')"))), "storage");
    ro.close();

    const junk = join(dir, "junk.db");
    Deno.writeTextFileSync(junk, "this is not a database, it is a text file that is long enough ".repeat(20));
    // Closed before the folder is removed: Windows cannot delete a file that is still open.
    const junkDb = new DatabaseSync(junk);
    const notDb = failure(() => junkDb.exec("SELECT * FROM sqlite_schema"));
    junkDb.close();
    assertEquals(classifySqliteError(notDb), "corrupt");
    assertEquals(classifySqliteError(new Error("database disk image is malformed")), "corrupt");
    assertEquals(classifySqliteError(new Error("database is locked")), "busy");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("DataDirLockedError: the exact message, with and without a pid", () => {
  assertEquals(
    new DataDirLockedError(4242, "/var/lib/simco").message,
    "another simco-agent (pid 4242) is using /var/lib/simco",
  );
  assertEquals(new DataDirLockedError(null, "d").message, "another simco-agent (pid unknown) is using d");
});
