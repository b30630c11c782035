/**
 * Malformed machines.toml files, each checked end to end through the real CLI (`simco-agent check`): the exact
 * one-line error (file, line, key path, what was expected, what was found) and exit code 2, no stack trace.
 */
import { sep as SEP } from "node:path";
import { assertEquals } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";

const AGENT = `[agent]\nid = "cell3"\n`;
const MACHINE = `[[machines]]\nid = "m1"\ndriver = "simulator"\n`;
const OK = AGENT + MACHINE;

interface Case {
  name: string;
  /** File content; a Uint8Array is written as is. Omitted: the file is not created. */
  text?: string | Uint8Array;
  /** Path handed to --config (default machines.toml). */
  arg?: string;
  /** Expected error lines (the summary line is checked separately). */
  errors: string[];
}

const CASES: Case[] = [
  {
    name: "missing file",
    arg: "nope.toml",
    errors: ["nope.toml: file not found (looked for {dir}/nope.toml)"],
  },
  {
    name: "a directory instead of a file",
    arg: "conf",
    errors: ["conf: is a directory (expected a TOML file such as conf/machines.toml)"],
  },
  {
    name: "invalid UTF-8",
    text: new Uint8Array([...new TextEncoder().encode(AGENT + "# Fr"), 0xe4, 0x73, 0x65, 0x0a]),
    errors: [
      "machines.toml:3: invalid UTF-8 at byte offset 25 (expected a UTF-8 text file; save it as UTF-8)",
    ],
  },
  {
    name: "TOML syntax error",
    text: AGENT + "interval = \n",
    errors: ["machines.toml:3: TOML syntax error at column 12: invalid value"],
  },
  {
    name: "TOML key defined twice",
    text: AGENT + 'id = "again"\n',
    errors: [
      "machines.toml:3: TOML syntax error at column 1: trying to redefine an already defined table or value",
    ],
  },
  {
    name: "no [agent] table",
    text: MACHINE,
    errors: ["machines.toml: agent: required table [agent] is missing (expected at least agent.id)"],
  },
  {
    name: "agent.id missing",
    text: `[agent]\ndata_dir = "d"\n` + MACHINE,
    errors: [
      "machines.toml:1: agent.id: required key is missing (expected 1-64 characters of A-Z a-z 0-9 . _ -)",
    ],
  },
  {
    name: "agent.id with a space",
    text: `[agent]\nid = "cell 3"\n` + MACHINE,
    errors: ['machines.toml:2: agent.id: expected 1-64 characters of A-Z a-z 0-9 . _ -, got "cell 3"'],
  },
  {
    name: "agent.id of 65 characters",
    text: `[agent]\nid = "${"a".repeat(65)}"\n` + MACHINE,
    errors: [
      `machines.toml:2: agent.id: expected 1-64 characters of A-Z a-z 0-9 . _ -, got "${"a".repeat(65)}"`,
    ],
  },
  {
    name: "misspelt section",
    text: OK + `[uplnk]\nurl = "https://x.example"\n`,
    errors: [
      'machines.toml:6: uplnk: unknown key; did you mean "uplink"? (expected one of: agent, uplink, buffer, defaults, machines)',
    ],
  },
  {
    name: "misspelt agent key",
    text: `[agent]\nid = "c"\ndta_dir = "x"\n` + MACHINE,
    errors: [
      'machines.toml:3: agent.dta_dir: unknown key; did you mean "data_dir"? (expected one of: id, data_dir, log_level, confinement, worker_user, log_format, metrics_listen, summary_interval)',
    ],
  },
  {
    name: "uplink.url with ftp scheme",
    text: OK + `[uplink]\nurl = "ftp://ingest.example.com"\n`,
    errors: [
      'machines.toml:7: uplink.url: expected an http:// or https:// URL, got "ftp://ingest.example.com"',
    ],
  },
  {
    name: "uplink.url without scheme",
    text: OK + `[uplink]\nurl = "ingest.example.com/v1"\n`,
    errors: ['machines.toml:7: uplink.url: expected an http:// or https:// URL, got "ingest.example.com/v1"'],
  },
  {
    name: "api key written inline",
    text: OK + `[uplink]\napi_key = "s3cr3t-value"\n`,
    errors: [
      "machines.toml:7: uplink.api_key: an api key must not be written in the config file (expected uplink.api_key_env naming an environment variable, or uplink.api_key_file naming a file)",
    ],
  },
  {
    name: "both api_key_env and api_key_file",
    text: OK + `[uplink]\napi_key_env = "K"\napi_key_file = "k.txt"\n`,
    errors: ["machines.toml:8: uplink.api_key_file: expected either api_key_env or api_key_file, not both"],
  },
  {
    name: "api_key_env not a variable name",
    text: OK + `[uplink]\napi_key_env = "SIMCO-KEY"\n`,
    errors: ['machines.toml:7: uplink.api_key_env: expected an environment variable name, got "SIMCO-KEY"'],
  },
  {
    name: "batch_size 0",
    text: OK + `[uplink]\nbatch_size = 0\n`,
    errors: ["machines.toml:7: uplink.batch_size: expected an integer 1..10000, got 0"],
  },
  {
    name: "batch_size as a string",
    text: OK + `[uplink]\nbatch_size = "100"\n`,
    errors: ['machines.toml:7: uplink.batch_size: expected an integer 1..10000, got "100"'],
  },
  {
    name: "timeout without a unit",
    text: OK + `[uplink]\ntimeout = "10"\n`,
    errors: [
      'machines.toml:7: uplink.timeout: expected a duration like "250ms", "5s", "5m" or "1h" (100ms..10m), got "10"',
    ],
  },
  {
    name: "timeout as a bare number",
    text: OK + `[uplink]\ntimeout = 10\n`,
    errors: [
      'machines.toml:7: uplink.timeout: expected a duration like "250ms", "5s", "5m" or "1h" (100ms..10m), got 10',
    ],
  },
  {
    name: "gzip as a string",
    text: OK + `[uplink]\ngzip = "yes"\n`,
    errors: ['machines.toml:7: uplink.gzip: expected true or false, got "yes"'],
  },
  {
    name: "when_full misspelt",
    text: OK + `[buffer]\nwhen_full = "drop-oldest"\n`,
    errors: [
      'machines.toml:7: buffer.when_full: expected one of "drop_oldest", "stop_polling", got "drop-oldest"; did you mean "drop_oldest"?',
    ],
  },
  {
    name: "log_level warn (the level is called warning)",
    text: `[agent]\nid = "cell3"\nlog_level = "warn"\n` + MACHINE,
    errors: [
      'machines.toml:3: agent.log_level: expected one of "debug", "info", "warning", "error", got "warn"; did you mean "warning"?',
    ],
  },
  {
    name: "misspelt defaults key",
    text: OK + `[defaults]\nintervall = "1s"\n`,
    errors: [
      'machines.toml:7: defaults.intervall: unknown key; did you mean "interval"? (expected one of: interval, timeout, max_backoff, breaker_threshold, breaker_cooldown, availability_after, max_memory_mb, max_cpu_percent)',
    ],
  },
  {
    name: "breaker_threshold 0",
    text: OK + `[defaults]\nbreaker_threshold = 0\n`,
    errors: ["machines.toml:7: defaults.breaker_threshold: expected an integer 1..1000, got 0"],
  },
  {
    name: "no machines",
    text: AGENT,
    errors: ["machines.toml: machines: expected at least one [[machines]] table, found none"],
  },
  {
    name: "machines as a string",
    text: `machines = "m1"\n` + AGENT,
    errors: ['machines.toml:1: machines: expected an array of tables ([[machines]]), got "m1"'],
  },
  {
    name: "duplicate machine id",
    text: OK + MACHINE,
    errors: ['machines.toml:7: machines[1].id: duplicate machine id "m1" (already used by machines[0])'],
  },
  {
    name: "machine without driver",
    text: AGENT + `[[machines]]\nid = "m1"\n`,
    errors: [
      "machines.toml:3: machines[0].driver: required key is missing (expected one of focas, mtconnect, simulator)",
    ],
  },
  {
    name: "unknown driver",
    text: AGENT + `[[machines]]\nid = "m1"\ndriver = "simulater"\n`,
    errors: [
      'machines.toml:5: machines[0].driver: unknown driver "simulater"; did you mean "simulator"? (expected one of: focas, mtconnect, simulator)',
    ],
  },
  {
    name: "machine interval in words",
    text: OK + `interval = "5 seconds"\n`,
    errors: [
      'machines.toml:6: machines[0].interval: expected a duration like "250ms", "5s", "5m" or "1h" (10ms..24h), got "5 seconds"',
    ],
  },
  {
    name: "mtconnect: no host, sample_count out of range, path_prefix without a slash",
    text: AGENT +
      `[[machines]]\nid = "m1"\ndriver = "mtconnect"\n[machines.options]\nsample_count = 0\npath_prefix = "mtc"\n`,
    errors: [
      "machines.toml:3: machines[0].host: required key is missing (expected a host name or IP address (no scheme, no port))",
      "machines.toml:7: machines[0].options.sample_count: expected an integer 1..10000, got 0",
      'machines.toml:8: machines[0].options.path_prefix: expected path in front of /probe, /current, /sample (an agent behind a reverse proxy), e.g. "/mtc", got "mtc"',
    ],
  },
  {
    name: "host given to a driver without network",
    text: OK + `host = "10.0.0.5"\n`,
    errors: [
      'machines.toml:6: machines[0].host: driver "simulator" does not connect to a host (expected no host)',
    ],
  },
  {
    name: "unknown driver option",
    text: OK + `[machines.options]\nbehavior = "hang"\n`,
    errors: [
      'machines.toml:7: machines[0].options.behavior: unknown key; did you mean "behaviour"? (expected one of: seed, behaviour, fail_rate, delay, leak_mb, misbehave_after, fail_until, time_scale)',
    ],
  },
  {
    name: "driver option out of range",
    text: OK + `[machines.options]\nfail_rate = 1.5\n`,
    errors: ["machines.toml:7: machines[0].options.fail_rate: expected a number 0..1, got 1.5"],
  },
  {
    name: "driver option not in its enum",
    text: OK + `[machines.options]\nbehaviour = "hnag"\n`,
    errors: [
      'machines.toml:7: machines[0].options.behaviour: expected one of "healthy", "flaky", "slow", "hang", "crash", "leak", "garbage", got "hnag"; did you mean "hang"?',
    ],
  },
];

Deno.test(`${CASES.length} malformed configurations: exact one-line errors, exit 2, no stack trace`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "simco-config-" });
  try {
    await Deno.mkdir(`${dir}/conf`);
    for (const c of CASES) {
      const file = c.arg ?? "machines.toml";
      if (c.text !== undefined) {
        if (typeof c.text === "string") await Deno.writeTextFile(`${dir}/${file}`, c.text);
        else await Deno.writeFile(`${dir}/${file}`, c.text);
      }
      const r = await runCli(["check", "--config", file], { cwd: dir });
      const lines = r.stderr.trimEnd().split("\n");
      // `{dir}/x` is an absolute path the agent printed: with the OS's separator.
      const expected = c.errors.map((e) => e.replaceAll("{dir}/", dir + SEP).replaceAll("{dir}", dir));
      assertEquals(
        { code: r.code, errors: lines.slice(0, -1), stdout: r.stdout },
        { code: 2, errors: expected, stdout: "" },
        c.name,
      );
      assertEquals(
        lines.at(-1),
        `simco-agent check: configuration has ${expected.length} problem${expected.length > 1 ? "s" : ""}`,
      );
      assertEquals(/\bat .*\.ts:\d+/.test(r.stderr), false, `${c.name}: stack trace printed`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/machines.toml passes check with its summary", async () => {
  const r = await runCli(["check", "--config", "examples/machines.toml"]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assertEquals(lines[1], "agent id:  plant1-cell3");
  assertEquals(lines[3], "uplink:    https://ingest.example.com/v1/telemetry");
  assertEquals(lines.some((l) => /^sim-mill-01\s+simulator\s+-\s+500ms\s+3s$/.test(l)), true, r.stdout);
});
