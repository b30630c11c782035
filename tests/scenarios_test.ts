/**
 * End-to-end scenarios with the real `simco-agent run` subprocess, real worker processes, a real buffer.db
 * and the reference ingest on 127.0.0.1: crash and restart (kill -9 at random moments), the cloud down and
 * back, and a really full disk (tmpfs, Linux as root).
 *
 * The agent runs with `log_level = "debug"`, which logs `machine <id>: buffered <id>` once a record's commit
 * has resolved: that log is the producer's own account of what it promised to deliver. A kill -9 can fall
 * between a commit and its log line, so after crashes the rule is "printed ⊆ ingest", and every record at
 * the ingest that was never printed must have been made just before one of the kills.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import { type AgentProcess, makePlant, type Plant } from "./helpers/agent.ts";
import { childPids, isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { runCli } from "./helpers/cli.ts";
import {
  ingestRows,
  printedIds,
  prng,
  randomTag,
  simMachines,
  statusJson,
  workersOf,
} from "./helpers/scenario_util.ts";
import { canMountTmpfs, mount, unmount } from "./helpers/tmpfs.ts";

const linux = Deno.build.os === "linux";

/** SIGTERM, exit 0, and no worker left behind. Returns the agent's stderr. */
async function stopAgent(agent: AgentProcess, tag: string): Promise<string> {
  const workers = childPids(agent.pid);
  Deno.kill(agent.pid, "SIGTERM");
  const status = await agent.status;
  assertEquals(status.code, 0, agent.stderr());
  for (const pid of workers) assertEquals(isAlive(pid), false, `worker ${pid} survived SIGTERM`);
  assertEquals(workersOf(tag), [], "worker processes left after SIGTERM");
  return agent.stderr();
}

/** Uploads what is left with `drain`, then checks the buffer is empty and nothing was dead-lettered. */
async function drainAll(plant: Plant): Promise<void> {
  const drain = await runCli(["drain", "--config", plant.config, "--timeout", "30s"], { env: plant.env });
  assertEquals(drain.code, 0, drain.stderr);
  const s = await statusJson(plant);
  assertEquals([s.running, s.buffer.queued, s.buffer.in_flight, s.buffer.dead_letter], [false, 0, 0, 0]);
}

Deno.test("scenario: kill -9 at 12 random moments and restarts: every record printed as buffered arrives, no worker survives", async () => {
  const seed = Date.now() % 1_000_000;
  const random = prng(seed);
  const tag = randomTag("k");
  const plant = await makePlant(simMachines(tag, 4), "batch_size = 20\n", { logLevel: "debug" });
  // Each upload is held a little, so kills also land while a batch is in flight.
  plant.ingest.inject({ kind: "delay", ms: 20 });
  const printed = new Set<string>();
  const kills: number[] = [];
  let runsThatBuffered = 0;
  try {
    for (let i = 0; i < 12; i++) {
      const agent = plant.startAgent();
      // The kill lands at a random moment once the agent has started its workers (on a loaded machine start-up
      // alone can take longer than the shortest delay): the /proc scan below must see them too, or its "none
      // left" would prove nothing.
      if (linux) {
        await waitFor(`run ${i}: a worker of this plant`, 15_000, () => workersOf(tag).length > 0);
      }
      // Every other run is killed only after it buffered something, so that whatever the machine's load, half
      // of the kills land while records are committed, claimed or in flight; the others may land earlier.
      if (i % 2 === 0) {
        await waitFor(`run ${i}: a buffered record`, 20_000, () => printedIds(agent.stderr()).length > 0);
      }
      const delay = Math.floor(random() * 1200);
      await new Promise((r) => setTimeout(r, delay));
      const workers = childPids(agent.pid);
      Deno.kill(agent.pid, "SIGKILL");
      kills.push(Date.now());
      const status = await agent.status;
      assertEquals(status.signal, "SIGKILL", `run ${i} exited by itself (seed ${seed}): ${agent.stderr()}`);
      const ids = printedIds(agent.stderr());
      if (ids.length) runsThatBuffered++;
      for (const id of ids) printed.add(id);
      // Workers notice the agent is gone (their stdin closes) and exit; none may outlive it for long.
      await waitFor(
        `workers of killed run ${i} to exit (seed ${seed})`,
        10_000,
        () => workers.every((pid) => !isAlive(pid)) && workersOf(tag).length === 0,
      );
      if (linux) assert(workers.length > 0, `run ${i}: no worker seen before the kill`);
    }
    assert(runsThatBuffered >= 6, `only ${runsThatBuffered} of 12 runs buffered anything (seed ${seed})`);

    // A last run delivers the backlog of the killed ones, then stops gracefully; drain sends the rest.
    const last = plant.startAgent();
    await waitFor("the killed runs' records at the ingest", 30_000, () => {
      const at = new Set(plant.ingest.ids());
      return [...printed].every((id) => at.has(id));
    });
    await waitFor("the last run to buffer records", 10_000, () => printedIds(last.stderr()).length >= 10);
    const lastIds = printedIds(await stopAgent(last, tag));
    assert(lastIds.length > 0, "the last run buffered nothing");
    for (const id of lastIds) printed.add(id);
    await drainAll(plant);

    const rows = ingestRows(plant);
    const at = new Set(rows.map((r) => r.id));
    assertEquals(plant.ingest.counts().unique, at.size);
    assertEquals(rows.length, at.size);
    assertEquals(plant.ingest.counts().rejected, 0);
    const missing = [...printed].filter((id) => !at.has(id));
    assertEquals(missing, [], `printed as buffered but never delivered (seed ${seed})`);
    // Records at the ingest that no log line announced: committed right before a kill, nothing else.
    const machines = new Set(Array.from({ length: 4 }, (_, i) => `${tag}-${i + 1}`));
    for (const r of rows) {
      if (printed.has(r.id)) continue;
      assert(machines.has(r.machine_id), `unknown machine ${r.machine_id}`);
      assert(
        kills.some((k) => r.ts <= k && r.ts > k - 3000),
        `record ${r.id} (${r.machine_id}, ts ${r.ts}) was never printed and not made just before a kill ` +
          `(kills at ${kills.join(", ")}; seed ${seed})`,
      );
    }
  } finally {
    await plant.close();
  }
});

Deno.test("scenario: the cloud answers 503 for a while (with and without Retry-After): records queue up, then arrive exactly once", async () => {
  const tag = randomTag("c");
  const plant = await makePlant(simMachines(tag, 3, 100, 150), "", { logLevel: "debug" });
  const agent = plant.startAgent();
  try {
    await waitFor("first records at the ingest", 15_000, () => plant.ingest.counts().unique >= 10);
    const count503 = () => plant.ingest.requests().filter((r) => r.status === 503).length;
    // One outage phase: the uplink shows backoff with the 503, retries (several answered 503s), and the
    // machines keep polling, so the queue grows.
    const down = async (what: string) => {
      const from = count503();
      const first = (await waitFor(`uplink backoff (${what})`, 10_000, async () => {
        const s = await statusJson(plant);
        return s.uplink.state === "backoff" && s.buffer.queued > 0 ? s : undefined;
      }))!;
      assert(String(first.uplink.last_error).includes("503"), `last_error: ${first.uplink.last_error}`);
      await waitFor(`3 retries answered 503 (${what})`, 15_000, () => count503() >= from + 3);
      const s = await statusJson(plant);
      assertEquals([s.uplink.state, s.buffer.dead_letter], ["backoff", 0]);
      assert(
        s.buffer.queued >= first.buffer.queued + 10,
        `queued ${first.buffer.queued} -> ${s.buffer.queued}`,
      );
    };
    plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
    await down("503 without Retry-After");
    plant.ingest.inject({ kind: "clear" });
    plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 503, retryAfter: "1" });
    await down("503 with Retry-After");
    assertEquals(plant.ingest.counts().unique, plant.ingest.ids().length);

    plant.ingest.inject({ kind: "clear" });
    await waitFor("uplink ok again and the queue empty", 15_000, async () => {
      const s = await statusJson(plant);
      return s.uplink.state !== "backoff" && s.buffer.queued < 10;
    });
    const printed = new Set(printedIds(await stopAgent(agent, tag)));
    await drainAll(plant);

    const c = plant.ingest.counts();
    assertEquals(new Set(plant.ingest.ids()), printed);
    assertEquals([c.received, c.duplicates, c.rejected], [c.unique, 0, 0]);
  } finally {
    await plant.close();
  }
});

Deno.test({
  name:
    "scenario: the data dir's file system fills up while the cloud is down: the agent keeps running and polling, CRITICAL once, everything arrives once space returns",
  ignore: !canMountTmpfs(),
  async fn() {
    const tag = randomTag("d");
    const plant = await makePlant(simMachines(tag, 3, 100, 100), "", { logLevel: "debug" });
    const data = join(plant.dir, "data");
    await Deno.mkdir(data);
    await mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", data);
    let agent: AgentProcess | null = null;
    try {
      plant.ingest.inject({ kind: "fail", count: 1_000_000, status: 503 });
      agent = plant.startAgent();
      const a = agent;
      await waitFor("records buffered", 15_000, () => printedIds(a.stderr()).length >= 10);
      // A ballast takes all but 256 KiB; the buffer's own writes (and the log) fill the rest.
      const ballast = await Deno.open(join(data, "ballast"), { write: true, create: true });
      let size = 0;
      try {
        for (const chunk = new Uint8Array(64 * 1024);;) size += await ballast.write(chunk);
      } catch { /* ENOSPC */ }
      await ballast.truncate(Math.max(0, size - 256 * 1024));
      ballast.close();
      const storageFailing = /CRITICAL simco\.buffer: buffer storage is failing/;
      await waitFor("CRITICAL for the full disk", 30_000, () => storageFailing.test(a.stderr()));
      const fullAt = Date.now();

      // Some seconds on a full disk: the agent stays up, status answers, machines keep polling (readings wait
      // in memory). The wait is the scenario itself, not a guess at how long something takes.
      await new Promise((r) => setTimeout(r, 3000));
      assert(isAlive(a.pid), "the agent died on the full disk");
      const st = await statusJson(plant);
      assertEquals([st.running, st.pid], [true, a.pid]);
      const freedAt = Date.now();
      await mount("-o", "remount,size=64m", data);
      plant.ingest.inject({ kind: "clear" });
      await waitFor(
        "buffer storage to work again",
        30_000,
        () => a.stderr().includes("buffer storage works again"),
      );
      await waitFor("everything printed at the ingest", 30_000, () => {
        const at = new Set(plant.ingest.ids());
        return printedIds(a.stderr()).every((id) => at.has(id));
      });
      const printed = new Set(printedIds(await stopAgent(a, tag)));
      await drainAll(plant);

      assertEquals(new Set(plant.ingest.ids()), printed);
      const c = plant.ingest.counts();
      assertEquals([c.received, c.rejected], [c.unique, 0]);
      const criticals = a.stderr().split("\n").filter((l) => l.includes(" CRITICAL "));
      assertEquals(criticals.length, 1, criticals.join("\n"));
      assert(storageFailing.test(criticals[0]), criticals[0]);
      // Readings taken while the disk was full were kept in memory and delivered: polling never stopped.
      const rows = ingestRows(plant);
      for (let i = 1; i <= 3; i++) {
        const during = rows.filter((r) => r.machine_id === `${tag}-${i}` && r.ts > fullAt && r.ts < freedAt);
        assert(during.length >= 5, `machine ${tag}-${i}: ${during.length} readings while the disk was full`);
      }
    } finally {
      if (agent) {
        try {
          agent.child.kill("SIGKILL");
        } catch { /* exited */ }
        await agent.status;
      }
      await unmount(data);
      await plant.close();
    }
  },
});
