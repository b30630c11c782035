import { assertEquals, assertMatch } from "../../tests/assert.ts";
import { getLog, setupLogging, shutdownLogging } from "./mod.ts";

Deno.test("log lines: one line per event, level names, braces printed as written, file sink", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await setupLogging({ level: "info", dataDir: dir, console: false });
    const log = getLog("test");
    log.warn('upload failed (HTTP 503 {"error":"injected failure"})');
    log.critical("two\nlines");
    log.debug("below the level");
    await shutdownLogging();
    const lines = (await Deno.readTextFile(`${dir}/logs/agent.log`)).trimEnd().split("\n");
    assertEquals(lines.length, 2);
    assertMatch(
      lines[0],
      /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN simco\.test: upload failed \(HTTP 503 \{"error":"injected failure"\}\)$/,
    );
    assertMatch(lines[1], / CRITICAL simco\.test: two\\nlines$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
