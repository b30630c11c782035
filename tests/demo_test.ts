/** The README's first command: `simco-agent demo`, shortened, as a real subprocess. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";

Deno.test("demo: hang and crash are killed and counted, the ingest stores everything, 0 records lost", async () => {
  const r = await runCli(["demo", "--duration", "7s"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  // Not a terminal: plain progress lines, no screen control codes.
  assertEquals(r.stdout.includes("\x1b["), false);
  assertMatch(r.stdout, /^demo \d+\/7 s: \d+ polls/m);
  const polls = r.stdout.match(/polls: +(\d+) \((\d+) ok, (\d+) failed: (.*)\)/);
  assert(polls, r.stdout);
  assert(Number(polls[2]) > 10, "healthy machines polled");
  assertMatch(polls[4], /timeout \d+/);
  assertMatch(polls[4], /crash \d+/);
  const buffered = Number(r.stdout.match(/records buffered: +(\d+)/)?.[1]);
  const uploaded = Number(r.stdout.match(/records uploaded: +(\d+)/)?.[1]);
  assert(buffered > 10 && buffered === uploaded, r.stdout);
  assertMatch(r.stdout, /^ {2}0 records lost \(buffered = uploaded \+ left in buffer\)$/m);
  // It says what it injected (the fault behind the duplicates), aligns its summary, and says what to try next.
  assertMatch(
    r.stdout,
    /^demo at \d+ s: injected an "ack lost" fault at the ingest: .* drops the copies by record id$/m,
  );
  assertMatch(r.stdout, /duplicates dropped \(ingest\): +\d+ \(the "ack lost" fault injected at \d+ s/);
  const summary = r.stdout.slice(r.stdout.indexOf("Demo summary"));
  const figures = summary.slice(0, summary.indexOf("What to try next"));
  const columns = figures.split("\n").filter((l) => /^ {2}[a-z][^:]*: /.test(l)).map((l) => /: +/.exec(l)!);
  assertEquals(columns.length, 6, summary);
  assertEquals(
    new Set(columns.map((m) => m.index + m[0].length)).size,
    1,
    `summary not aligned:\n${summary}`,
  );
  assertMatch(summary, /^What to try next\n {2}simco-agent demo --duration 2m +\S/m);
});

Deno.test("demo: a bad --duration is a usage error", async () => {
  const r = await runCli(["demo", "--duration", "soon"]);
  assertEquals(r.code, 2);
  assertEquals(
    r.stderr.split("\n")[0],
    'simco-agent demo: --duration: expected a duration such as 30s or 10m (at least 1s), got "soon"',
  );
});
