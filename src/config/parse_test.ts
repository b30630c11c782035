import { join, resolve } from "node:path";
import { assert, assertEquals } from "../../tests/assert.ts";
import { parseConfig } from "./parse.ts";
import { formatProblem } from "./types.ts";

/** An absolute folder on this OS (`/plant`, `C:\\plant` on Windows): parse resolves paths the OS's way. */
const PLANT = resolve("/plant");

const VALID = `
[agent]
id = "plant1-cell3"

[[machines]]
id = "m1"
driver = "simulator"
`;

function problems(text: string): string[] {
  const r = parseConfig(text, "machines.toml", join(PLANT, "machines.toml"));
  return r.ok ? [] : r.problems.map(formatProblem);
}

Deno.test("a minimal config gets every default", () => {
  const r = parseConfig(VALID, "machines.toml", join(PLANT, "machines.toml"));
  assert(r.ok, JSON.stringify(r));
  const c = r.config;
  assertEquals(c.agent, {
    id: "plant1-cell3",
    dataDir: join(PLANT, "simco-data"),
    logLevel: "info",
    confinement: "best_effort",
    workerUser: "nobody",
    logFormat: "text",
    metricsListen: null,
    summaryIntervalMs: 300_000,
  });
  assertEquals(c.uplink, {
    url: null,
    apiKeyEnv: null,
    apiKeyFile: null,
    batchSize: 100,
    timeoutMs: 10_000,
    gzip: true,
    caFile: null,
    maxBackoffMs: 300_000,
  });
  assertEquals(c.buffer, { maxRecords: 5_000_000, whenFull: "drop_oldest" });
  assertEquals(c.machines[0], {
    id: "m1",
    driver: "simulator",
    host: null,
    port: null,
    intervalMs: 1000,
    timeoutMs: 5000,
    maxBackoffMs: 300_000,
    breakerThreshold: 5,
    breakerCooldownMs: 900_000,
    availabilityAfter: 3,
    maxMemoryMb: 256,
    maxCpuPercent: 50,
    options: {
      seed: 1,
      behaviour: "healthy",
      fail_rate: 0.3,
      delay: 2000,
      leak_mb: 8,
      misbehave_after: 0,
      fail_until: 0,
      time_scale: 1,
    },
  });
  assert(Object.isFrozen(c) && Object.isFrozen(c.machines[0]) && Object.isFrozen(c.machines[0].options));
});

Deno.test("defaults apply to machines, machine keys override them, paths resolve against the file", () => {
  const r = parseConfig(
    `[agent]\nid = "a"\ndata_dir = "data"\n[uplink]\nurl = "https://x.example/v1"\napi_key_file = "k/key.txt"\n` +
      `[defaults]\ninterval = "2s"\nbreaker_threshold = 3\n[[machines]]\nid = "m1"\ndriver = "simulator"\ninterval = "250ms"\n` +
      `[[machines]]\nid = "m2"\ndriver = "simulator"\n`,
    "machines.toml",
    join(PLANT, "cfg", "machines.toml"),
  );
  assert(r.ok, JSON.stringify(r));
  assertEquals(r.config.agent.dataDir, join(PLANT, "cfg", "data"));
  assertEquals(r.config.uplink.apiKeyFile, join(PLANT, "cfg", "k", "key.txt"));
  assertEquals(r.config.machines.map((m) => [m.intervalMs, m.breakerThreshold]), [[250, 3], [2000, 3]]);
});

Deno.test("every problem is reported at once, sorted by line", () => {
  const got = problems(`[agent]\nid = "bad id"\n[buffer]\nmax_records = 0\nwhen_full = "block"\n`);
  assertEquals(got, [
    'machines.toml:2: agent.id: expected 1-64 characters of A-Z a-z 0-9 . _ -, got "bad id"',
    "machines.toml:4: buffer.max_records: expected an integer 1..1000000000, got 0",
    'machines.toml:5: buffer.when_full: expected one of "drop_oldest", "stop_polling", got "block"',
    "machines.toml: machines: expected at least one [[machines]] table, found none",
  ]);
});

Deno.test("problems inside the third [[machines]] table name machines[2] and its line", () => {
  const text = VALID + `\n[[machines]]\nid = "m2"\ndriver = "simulator"\n\n[[machines]]\nid = "m3"\n` +
    `driver = "simulator"\n[machines.options]\nseed = "7"\nbehavior = "hang"\n`;
  assertEquals(problems(text), [
    'machines.toml:17: machines[2].options.seed: expected an integer 0..2147483647, got "7"',
    'machines.toml:18: machines[2].options.behavior: unknown key; did you mean "behaviour"? ' +
    "(expected one of: seed, behaviour, fail_rate, delay, leak_mb, misbehave_after, fail_until, time_scale)",
  ]);
});

Deno.test("[agent] confinement and worker_user: values are taken, wrong ones named with the key", () => {
  const r = parseConfig(
    VALID.replace('id = "plant1-cell3"', 'id = "a"\nconfinement = "strict"\nworker_user = "simco"'),
    "machines.toml",
    "/plant/machines.toml",
  );
  assert(r.ok, JSON.stringify(r));
  assertEquals([r.config.agent.confinement, r.config.agent.workerUser], ["strict", "simco"]);
  assertEquals(
    problems(VALID.replace('id = "plant1-cell3"', 'id = "a"\nconfinement = "yes"\nworker_user = "a b"')),
    [
      'machines.toml:4: agent.confinement: expected one of "strict", "best_effort", "off", got "yes"',
      'machines.toml:5: agent.worker_user: expected a user name or numeric uid, got "a b"',
    ],
  );
});

Deno.test("[agent] metrics_listen, log_format and summary_interval: parsed, or one line naming the key", () => {
  const text = (extra: string) => VALID.replace('id = "plant1-cell3"', `id = "plant1-cell3"\n${extra}`);
  const r = parseConfig(
    text('metrics_listen = "127.0.0.1:9464"\nlog_format = "json"\nsummary_interval = "1m"'),
    "machines.toml",
    "/plant/machines.toml",
  );
  assert(r.ok);
  assertEquals(r.config.agent.metricsListen, { hostname: "127.0.0.1", port: 9464 });
  assertEquals([r.config.agent.logFormat, r.config.agent.summaryIntervalMs], ["json", 60_000]);
  const v6 = parseConfig(text('metrics_listen = "[::1]:0"'), "machines.toml", "/plant/machines.toml");
  assert(v6.ok);
  assertEquals(v6.config.agent.metricsListen, { hostname: "::1", port: 0 });
  assertEquals(problems(text('metrics_listen = "9464"')), [
    'machines.toml:4: agent.metrics_listen: expected a "host:port" address such as "127.0.0.1:9464" (port 0..65535), got "9464"',
  ]);
  assertEquals(problems(text('metrics_listen = "localhost:70000"')).length, 1);
  assertEquals(problems(text('log_format = "xml"')).length, 1);
  assertEquals(problems(text('summary_interval = "10ms"')).length, 1);
});
