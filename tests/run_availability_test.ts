/**
 * Availability records from a real `run` (issue 13, bug 8): a machine whose polls fail now and then does not
 * flap; it is recorded UNAVAILABLE only after `availability_after` consecutive failures (default 3) or when
 * its breaker opens, whichever comes first.
 */
import { assertEquals } from "./assert.ts";
import { makePlant } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";
import { ingestMetrics, statusJson } from "./helpers/scenario_util.ts";

// fail_rate 1 with misbehave_after 1: a fresh worker answers once, then fails and is recycled, so polls
// alternate success / failure exactly.
const MACHINES = `
[defaults]
interval = "200ms"
max_backoff = "1s"

[[machines]]
id = "alt-1"
driver = "simulator"
options = { behaviour = "flaky", fail_rate = 1.0, misbehave_after = 1 }

[[machines]]
id = "down-1"
driver = "simulator"
breaker_threshold = 10
options = { behaviour = "flaky", fail_rate = 1.0 }

[[machines]]
id = "brk-1"
driver = "simulator"
availability_after = 8
breaker_threshold = 2
breaker_cooldown = "10m"
options = { behaviour = "flaky", fail_rate = 1.0 }
`;

interface MachineStatus {
  id: string;
  state: string;
  consecutive_failures: number;
  failures_total: number;
}

Deno.test("availability: one failed poll is no outage; UNAVAILABLE after availability_after failures or at breaker open", async () => {
  const plant = await makePlant(MACHINES);
  const agent = plant.startAgent();
  try {
    const machine = async (id: string) =>
      (await statusJson(plant)).machines.find((m) => m.id === id) as unknown as MachineStatus;
    await waitFor("alt-1: 4 failed polls, each after a success", 60_000, async () => {
      const [alt, down, brk] = [await machine("alt-1"), await machine("down-1"), await machine("brk-1")];
      return alt.failures_total >= 4 && down.consecutive_failures >= 4 && brk.state === "CRITICAL";
    });
    Deno.kill(agent.pid, "SIGTERM");
    assertEquals((await agent.status).code, 0, agent.stderr());
    const availability = (id: string) =>
      // The agent's own availability records have no other key than these two (readings carry many).
      ingestMetrics(plant.dir, id)
        .filter((m) => Object.keys(m).every((k) => k === "availability" || k === "availability_reason"))
        .map((m) => m.availability);
    assertEquals(availability("alt-1"), ["AVAILABLE"], "a machine failing every other poll flapped");
    assertEquals(availability("down-1"), ["UNAVAILABLE"]);
    assertEquals(availability("brk-1"), ["UNAVAILABLE"], "the breaker opening marks the machine UNAVAILABLE");
    const down = ingestMetrics(plant.dir, "down-1").find((m) => m.availability === "UNAVAILABLE")!;
    assertEquals(typeof down.availability_reason, "string");
  } finally {
    await plant.close();
  }
});
