/**
 * One exit code per cause, for every command (issue 13, bug 9): the table in README.md ("Exit codes"),
 * checked row by row through the real CLI. A data dir held by another process is 3 for every command that
 * needs the buffer to itself; usage and configuration mistakes are 2; runtime failures 1; "done, but the
 * cloud rejected records" 4; "nothing to export" 5. (`run` forced by a second signal, 130, is tested in run_e2e_test.ts.)
 */
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import { holdDataDir } from "./helpers/deno_script.ts";
import { keyFile, openBuffer, seed, writeConfig } from "./helpers/uplink_env.ts";
import { tempDir } from "./helpers/temp_dir.ts";

/** One row: a command line, the state it runs in, and the code it must exit with. */
interface Row {
  readonly args: readonly string[];
  readonly code: 0 | 1 | 2 | 3 | 4 | 5;
  /** `locked`: another process holds the data dir; `down`: the ingest answers 503; `reject`: it refuses a record. */
  readonly when?: "locked" | "down" | "reject";
}

const C = ["--config", "machines.toml"];
const ROWS: readonly Row[] = [
  { args: ["run", "--config", "nope.toml"], code: 2 },
  { args: ["run", ...C], code: 3, when: "locked" },
  { args: ["drain", ...C, "--timeout", "soon"], code: 2 },
  { args: ["drain", ...C, "--timeout", "1s"], code: 1, when: "down" },
  { args: ["drain", ...C], code: 4, when: "reject" },
  { args: ["drain", ...C], code: 0 },
  { args: ["status", ...C], code: 0 },
  { args: ["status", "--config", "nope.toml"], code: 2 },
  { args: ["check", ...C], code: 0 },
  { args: ["check", ...C, "--jsno"], code: 2 },
  { args: ["poll", "sim-1", ...C], code: 0 },
  { args: ["poll", "bad-1", ...C], code: 1 },
  { args: ["poll", "sim-9", ...C], code: 2 },
  { args: ["export", ...C, "--out", "out.simco"], code: 0 },
  { args: ["export", ...C, "--out", "no-such-folder/out.simco"], code: 2 },
  { args: ["export", ...C, "--out", "beside-run.simco"], code: 0, when: "locked" },
  { args: ["export", "--config", "empty.toml", "--out", "empty.simco"], code: 5 },
  { args: ["upload", "corrupt.simco", ...C], code: 1 },
  { args: ["upload", ...C], code: 2 },
  { args: ["ingest", "--listen", "nowhere", "--db", "ingest-cli.db"], code: 2 },
  { args: ["dead-letters", "list", ...C], code: 0 },
  { args: ["dead-letters", "requeue", ...C], code: 3, when: "locked" },
  { args: ["dead-letters", "purge", ...C], code: 2 },
  { args: ["demo", "--duration", "soon"], code: 2 },
  { args: ["stauts"], code: 2 },
];

Deno.test("exit codes: one table for every command (README.md)", async () => {
  const dir = await tempDir("simco-exit-");
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "k-exit-codes" });
  try {
    keyFile(dir.path, "k-exit-codes");
    writeConfig(dir.path, ingest.url);
    Deno.writeTextFileSync(
      join(dir.path, "machines.toml"),
      Deno.readTextFileSync(join(dir.path, "machines.toml")) +
        '\n[[machines]]\nid = "bad-1"\ndriver = "simulator"\noptions = { behaviour = "flaky", fail_rate = 1.0 }\n',
    );
    Deno.writeTextFileSync(join(dir.path, "corrupt.simco"), "not an export file\n");
    Deno.writeTextFileSync( // a data dir with nothing in it: export has nothing to export
      join(dir.path, "empty.toml"),
      Deno.readTextFileSync(join(dir.path, "machines.toml")).replace(
        'data_dir = "data"',
        'data_dir = "empty-data"',
      ),
    );
    const data = join(dir.path, "data");
    for (const row of ROWS) {
      const buffer = openBuffer(data);
      const records = await seed(buffer, 3, "sim-1", 1_700_000_000_000 + Math.floor(Math.random() * 1e9));
      await buffer.close();
      const holder = row.when === "locked" ? await holdDataDir(data) : null;
      if (row.when === "down") ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
      if (row.when === "reject") ingest.inject({ kind: "reject_id", id: records[1].id });
      try {
        const r = await runCli(row.args, { cwd: dir.path });
        const line = row.args.join(" ");
        assertEquals(r.code, row.code, `${line}\n${r.stderr}`);
        assert(!/^\s+at /m.test(r.stderr), `${line}: stack trace\n${r.stderr}`);
        if (row.code !== 0) assertMatch(r.stderr, /^simco-agent[ :]/m, line);
      } finally {
        ingest.inject({ kind: "clear" });
        if (holder) {
          await holder.release();
        }
      }
    }
  } finally {
    await ingest.close();
    await dir.cleanup();
  }
});
