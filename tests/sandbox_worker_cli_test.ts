/**
 * The `__worker` entry point as a real process: the spawn secret first, then hello, exit on end of stdin, exit 65 on a request that
 * is not JSON, a pipelined init/poll/close conversation, and `--help` through the normal CLI.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import { selfCommand } from "../src/runtime.ts";
import { driverEntry } from "../drivers/registry.ts";

const INIT = {
  id: 1,
  op: "init",
  driver: "simulator",
  module: driverEntry("simulator")!.module,
  options: { seed: 3, behaviour: "healthy" },
  ctx: { machineId: "cli-1", host: null, port: null, timeoutMs: 1000 },
  permissions: { net: false, read: false, ffi: false },
};

const SECRET = "00112233445566778899aabbccddeeff";
const SECRET_LINE = JSON.stringify({ secret: SECRET }) + "\n";

Deno.test("__worker: the secret first, then hello carrying it; exit 0 when stdin ends; exit 65 otherwise", async () => {
  const empty = await runCli(["__worker", "--machine", "cli-1"], { stdin: "" });
  assertEquals([empty.code, empty.stdout], [0, ""], empty.stderr);
  const hello = await runCli(["__worker", "--machine", "cli-1"], { stdin: SECRET_LINE });
  assertEquals(hello.code, 0, hello.stderr);
  assertMatch(
    hello.stdout,
    new RegExp(`^\\{"type":"hello","protocol":2,"pid":\\d+,"auth":"${SECRET}"\\}\\n$`),
  );
  const noSecret = await runCli(["__worker"], { stdin: JSON.stringify(INIT) + "\n" });
  assertEquals([noSecret.code, noSecret.stdout], [65, ""]);
  assertStringIncludes(noSecret.stderr, "worker: expected the spawn secret as the first line");
  const bad = await runCli(["__worker"], { stdin: SECRET_LINE + "not json\n" });
  assertEquals(bad.code, 65);
  assertStringIncludes(bad.stderr, 'worker: request is not JSON: "not json"');
});

Deno.test("__worker: pipelined init, poll and close are answered in order; close ends the process", async () => {
  // stdin stays open: its end would mean "the agent is gone" and end the worker at once.
  const { cmd, args } = selfCommand(["__worker", "--machine", "cli-1"]);
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  const stdin = SECRET_LINE +
    [INIT, { id: 2, op: "poll" }, { id: 3, op: "close" }].map((r) => JSON.stringify(r) + "\n")
      .join("");
  await writer.write(new TextEncoder().encode(stdin));
  const out = await child.output(); // ends when the worker exits after answering close
  await writer.close().catch(() => {});
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.every((l) => l.auth === SECRET), true);
  assertEquals(lines.map((l) => [l.type, l.id]), [["hello", undefined], ["ready", 1], ["telemetry", 2], [
    "closed",
    3,
  ]]);
  assertEquals(lines[2].metrics.availability, "AVAILABLE");
});

Deno.test("__worker --help goes through the CLI (the command stays hidden from the main help)", async () => {
  const help = await runCli(["__worker", "--help"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "Usage: simco-agent __worker [--machine ID]");
  const main = await runCli(["--help"]);
  assertEquals(main.stdout.includes("__worker"), false);
});
