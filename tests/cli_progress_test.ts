/**
 * The progress line of `drain` and `upload` as a user sees it (issue 13): on a real terminal (a pty made by
 * util-linux `script`) log lines clear the bar first instead of gluing onto it; `upload` says why it waits
 * and when it retries, and Ctrl-C (SIGINT) says what was sent and what is left.
 */
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { selfCommand } from "../src/runtime.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { keyFile, openBuffer, seed, writeConfig } from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

async function plant(n: number) {
  const dir = await tempDir("simco-progress-");
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "k-progress" });
  const buffer = openBuffer(join(dir.path, "data"));
  await seed(buffer, n);
  await buffer.close();
  keyFile(dir.path, "k-progress");
  const cfg = writeConfig(dir.path, ingest.url, { maxBackoff: "5m" });
  return {
    dir: dir.path,
    ingest,
    cfg,
    async close() {
      await ingest.close();
      await dir.cleanup();
    },
  };
}

const hasScript = Deno.build.os === "linux" &&
  (await new Deno.Command("sh", { args: ["-c", "command -v script"], stdout: "null" }).output()).success;
if (!hasScript) console.warn("skipping the terminal test: util-linux `script` (a pty) is not available here");

const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;

Deno.test({
  name: "drain on a terminal: a log line clears the progress bar first, never glues onto it",
  ignore: !hasScript,
  async fn() {
    const p = await plant(500);
    try {
      p.ingest.inject({ kind: "fail", count: 2, status: 503 }); // WARN "upload failed" while the bar shows
      const { cmd, args } = selfCommand(["drain", "--config", p.cfg, "--timeout", "60s"]);
      const out = await new Deno.Command("script", {
        args: ["-qec", [cmd, ...args].map(quote).join(" "), "/dev/null"],
        cwd: p.dir,
        env: { NO_COLOR: "1", INIT_CWD: p.dir },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, text + new TextDecoder().decode(out.stderr));
      assertStringIncludes(text, "\x1b[2Kdrain: [");
      const logs = [...text.matchAll(/\d{4}-\d\d-\d\dT[\d:.]+Z (WARN|INFO)/g)];
      assert(logs.some((m) => m[1] === "WARN"), text);
      for (const m of logs) {
        const before = text.slice(Math.max(0, m.index! - 4), m.index!);
        assert(
          m.index === 0 || before.endsWith("\n") || before.endsWith("\x1b[2K"),
          `log line glued onto the bar: ${
            JSON.stringify(text.slice(Math.max(0, m.index! - 60), m.index! + 30))
          }`,
        );
      }
      assertEquals(p.ingest.counts().unique, 500);
    } finally {
      await p.close();
    }
  },
});

Deno.test("upload says why it waits and when it retries; Ctrl-C says what was sent and what is left", async () => {
  const p = await plant(50);
  try {
    const file = join(p.dir, "day.simco");
    const ex = await runCli(["export", "--config", p.cfg, "--out", file], { cwd: p.dir });
    assertEquals(ex.code, 0, ex.stderr);
    p.ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
    const up = spawnCli(["upload", file, "--config", p.cfg], { cwd: p.dir });
    await waitFor("a waiting line", 30_000, () => /waiting: .*503.*, retry in \d+s/.test(up.stderr()));
    up.child.kill("SIGINT");
    const status = await up.status;
    assertEquals(status.code, 1, up.stderr());
    assertMatch(up.stderr(), /upload: 0 sent {2}50 left .* {2}waiting: .*503.*, retry in \d+s/);
    assertStringIncludes(up.stderr(), "interrupted; 0 of 50 records sent, 50 left");
  } finally {
    await p.close();
  }
});
