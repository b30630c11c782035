/** The command-line surface, through the real CLI subprocess. */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import { COMMANDS } from "../src/cli/commands/all.ts";
import { RUNTIME_FLAGS } from "../src/runtime.ts";
import { VERSION } from "../src/version.ts";

Deno.test("--version prints the version", async () => {
  const r = await runCli(["--version"]);
  assertEquals(r.code, 0);
  assertMatch(r.stdout, new RegExp(`^simco-agent ${VERSION.replaceAll(".", "\\.")} \\(deno \\d`));
});

Deno.test("--help lists every visible command; no arguments prints it to stderr with exit 2", async () => {
  const help = await runCli(["--help"]);
  assertEquals(help.code, 0);
  for (const c of COMMANDS.filter((c) => !c.hidden)) {
    assertMatch(help.stdout, new RegExp(`^  ${c.name} `, "m"));
  }
  assertEquals(help.stdout.includes("__worker"), false);
  const none = await runCli([]);
  assertEquals(none.code, 2);
  assertStringIncludes(none.stderr, "Usage: simco-agent <command>");
});

Deno.test("unknown subcommand: one line with the nearest word, then usage, exit 2", async () => {
  const r = await runCli(["stauts"]);
  assertEquals(r.code, 2);
  assertEquals(r.stderr.split("\n")[0], 'simco-agent: unknown command "stauts"; did you mean "status"?');
  assertStringIncludes(r.stderr, "Commands:");
  assertEquals(r.stdout, "");
});

Deno.test("unknown flag, missing value, missing flag, extra argument: one line plus usage, exit 2", async () => {
  const cases: [string[], string][] = [
    [
      ["check", "--conifg", "x.toml"],
      `simco-agent check: unknown flag --conifg for 'check'; did you mean "--config"?`,
    ],
    [["drain", "--config"], "simco-agent drain: flag --config needs a value (FILE)"],
    [
      ["status"],
      `simco-agent status: no --config FILE given, and no machines.toml in the current folder (looked for ${
        join(Deno.cwd(), "machines.toml")
      })`,
    ],
    [
      ["check", "machines.toml"],
      'simco-agent check: unexpected argument "machines.toml"; did you mean "--config machines.toml"?',
    ],
    [["poll", "--config", "x.toml"], "simco-agent poll: missing MACHINE_ID (id of a [[machines]] entry)"],
    [["check", "--config", "x.toml", "extra"], 'simco-agent check: unexpected argument "extra"'],
    [
      ["dead-letters", "lst", "--config", "x.toml"],
      'simco-agent dead-letters: unknown ACTION "lst"; did you mean "list"? (expected one of: list, requeue, purge)',
    ],
  ];
  for (const [args, line] of cases) {
    const r = await runCli(args);
    assertEquals(r.code, 2, args.join(" "));
    const lines = r.stderr.trimEnd().split("\n");
    assertEquals(lines[0], line);
    assertMatch(lines[1], /^Usage: simco-agent /);
    assertEquals(lines.length, 2, r.stderr);
  }
});

Deno.test("help <command> prints that command's help; --verison gets a suggestion", async () => {
  const help = await runCli(["help", "run"]);
  assertEquals(help.code, 0, help.stderr);
  assertEquals(help.stdout, (await runCli(["run", "--help"])).stdout);
  assert(help.stdout.startsWith("Usage: simco-agent run"), help.stdout);
  const bad = await runCli(["help", "stauts"]);
  assertEquals(bad.code, 2);
  assertEquals(bad.stderr.split("\n")[0], 'simco-agent: unknown command "stauts"; did you mean "status"?');
  const typo = await runCli(["--verison"]);
  assertEquals(typo.code, 2);
  assertEquals(
    typo.stderr.split("\n")[0],
    'simco-agent: unknown flag "--verison"; did you mean "--version"?',
  );
});

Deno.test("without --config the command uses ./machines.toml of the current folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simco-cli-" });
  try {
    await Deno.writeTextFile(
      join(dir, "machines.toml"),
      '[agent]\nid = "here"\n' +
        '[[machines]]\nid = "m1"\ndriver = "simulator"\n',
    );
    const r = await runCli(["check"], { cwd: dir });
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, `configuration OK: ${join(dir, "machines.toml")}`);
    assertStringIncludes(r.stdout, "agent id:  here");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "bin/simco-agent runs the CLI from source in any folder, paths relative to that folder",
  ignore: Deno.build.os === "windows", // bin/simco-agent.cmd is its Windows twin (not run here)
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "simco-bin-" });
    try {
      const script = new URL("../bin/simco-agent", import.meta.url).pathname;
      const run = async (...args: string[]) => {
        const out = await new Deno.Command("sh", {
          args: [script, ...args],
          cwd: dir,
          env: { SIMCO_DENO: Deno.execPath(), NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      };
      const none = await run("status");
      assertEquals(none.code, 2, none.stderr);
      assertStringIncludes(none.stderr, `(looked for ${join(dir, "machines.toml")})`);
      await Deno.writeTextFile(
        join(dir, "plant.toml"),
        '[agent]\nid = "p"\n[[machines]]\nid = "m1"\ndriver = "simulator"\n',
      );
      const ok = await run("check", "--config", "plant.toml");
      assertEquals(ok.code, 0, ok.stderr);
      assertStringIncludes(ok.stdout, `configuration OK: ${join(dir, "plant.toml")}`);
      assertEquals(ok.stderr, "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--help and -h work after every command", async () => {
  for (const c of COMMANDS.filter((c) => !c.hidden)) {
    for (const flag of ["--help", "-h"]) {
      const r = await runCli([c.name, flag]);
      assertEquals(r.code, 0, `${c.name} ${flag}: ${r.stderr}`);
      assert(r.stdout.startsWith(`Usage: simco-agent ${c.name}`), r.stdout);
    }
  }
});

Deno.test("deno task agent and compile use exactly the runtime flags workers are started with", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const flags = RUNTIME_FLAGS.join(" ");
  assertStringIncludes(cfg.tasks.agent, `deno run ${flags} main.ts`);
  assertStringIncludes(cfg.tasks.compile, `deno compile ${flags} `);
  assertStringIncludes(cfg.tasks.compile, "--output dist/simco-agent");
});
