/**
 * `simco-agent __worker`: hidden entry point of a driver worker process (see src/sandbox/). Started by the
 * agent through `selfCommand`, never by people; it speaks NDJSON on stdin/stdout (docs/worker-protocol.md).
 * The sandbox code is imported lazily so other commands do not load it.
 */
import type { Command } from "../command.ts";

/** The hidden worker command. */
export const workerCommand: Command = {
  name: "__worker",
  summary: "internal: driver worker process (started by the agent, not by people)",
  details: "Speaks the worker protocol (docs/worker-protocol.md) on stdin/stdout; exits when stdin closes.",
  hidden: true,
  flags: [
    {
      name: "machine",
      type: "string",
      value: "ID",
      description: "machine id, so the process can be told apart in process lists",
    },
  ],
  positionals: [],
  async run() {
    const { runWorker } = await import("../../sandbox/worker_main.ts");
    const code = await runWorker();
    // Exit at once: a driver's Web Worker that is still busy must not keep the process alive.
    Deno.exit(code);
  },
};
