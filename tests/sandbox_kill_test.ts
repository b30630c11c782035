/**
 * SIGKILL of the agent leaves no worker process behind: a stand-in agent (tests/processes/sandbox_host.ts)
 * runs a healthy worker, one busy-looping in a hung poll and one whose driver busy-loops while loading; after
 * SIGKILL of the agent, all workers notice their stdin closing and exit. Linux only: it checks pids in /proc and needs SIGKILL semantics.
 */
import { assert, assertEquals } from "./assert.ts";
import { isAlive } from "./helpers/proc.ts";
import { waitFor } from "./helpers/wait.ts";
import { readLines } from "../src/sandbox/line_framing.ts";

Deno.test({
  name: "SIGKILL of the agent: its worker processes exit, even one stuck in a busy loop",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const host = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-worker-options", "--no-prompt", "tests/processes/sandbox_host.ts"],
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let pids: number[] = [];
    try {
      const lines = readLines(host.stdout, 4096);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const first = await Promise.race([
        lines.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("the host printed no pids within 30 s")), 30_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert(!first.done && "line" in first.value, "the host printed no pids");
      pids = JSON.parse(first.value.line).pids;
      assertEquals(pids.length, 3);
      for (const pid of pids) assert(isAlive(pid), `worker ${pid} should run before the kill`);
      host.kill("SIGKILL");
      const status = await host.status;
      assertEquals(status.signal, "SIGKILL");
      await waitFor(`workers ${pids.join(", ")} to exit`, 5000, () => pids.every((p) => !isAlive(p)));
      // Drain the rest of stdout so the stream is closed.
      for await (const _ of lines) { /* nothing more is expected */ }
    } finally {
      try {
        host.kill("SIGKILL");
      } catch { /* already gone */ }
      for (const pid of pids) {
        try {
          if (isAlive(pid)) Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      }
    }
  },
});
