/** `simco-agent __worker`: hidden entry point of a driver worker process (see src/sandbox/). */
import { type Command, notAvailableYet } from "../command.ts";

/** The hidden worker command. */
export const workerCommand: Command = {
  name: "__worker",
  summary: "internal: driver worker process (started by the agent, not by people)",
  hidden: true,
  flags: [],
  positionals: [],
  run() {
    return notAvailableYet("__worker");
  },
};
