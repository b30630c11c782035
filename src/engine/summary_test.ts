import { assertEquals } from "../../tests/assert.ts";
import { startupLine, type SummaryFigures, summaryLine } from "./summary.ts";

const T0: SummaryFigures = {
  at: 0,
  polls: 10,
  failures: 1,
  buffered: 9,
  sent: 100,
  queued: 0,
  oldestQueuedTs: null,
  deadLetters: 0,
  dropped: 0,
};

Deno.test("summary line: deltas over the interval, human durations, plurals", () => {
  assertEquals(
    summaryLine(T0, {
      ...T0,
      at: 300_000,
      polls: 1510,
      failures: 4,
      buffered: 1506,
      sent: 1590,
      queued: 7,
      oldestQueuedTs: 298_000,
    }),
    "summary (last 5m): 1500 polls, 3 failed; 1497 records buffered, 1490 sent; backlog 7 records (oldest 2s)",
  );
  assertEquals(
    summaryLine(T0, { ...T0, at: 60_000, polls: 11, buffered: 10, deadLetters: 1, dropped: 5 }),
    "summary (last 1m): 1 poll, 0 failed; 1 record buffered, 0 sent; backlog empty, 1 dead letter, 5 dropped by the cap",
  );
});

Deno.test("startup line", () => {
  assertEquals(
    startupLine({
      version: "0.1.0",
      agentId: "plant1",
      configFile: "/etc/simco/machines.toml",
      machines: 1,
      dataDir: "/var/lib/simco",
      queued: 120,
      oldestQueuedTs: 0,
      deadLetters: 0,
      now: 3_900_000,
    }),
    "simco-agent 0.1.0 started: agent plant1, config /etc/simco/machines.toml, 1 machine, data dir /var/lib/simco, buffer 120 records queued (oldest 1h5m)",
  );
});
