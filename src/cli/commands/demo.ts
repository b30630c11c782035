/** `simco-agent demo`: run the agent against simulated machines and a local ingest (no config needed). */
import { type Command, notAvailableYet } from "../command.ts";

/** The `demo` command. */
export const demoCommand: Command = {
  name: "demo",
  summary: "run the agent against simulated machines and a local ingest (no config needed)",
  flags: [{
    name: "duration",
    type: "string",
    value: "DURATION",
    description: "how long to run (default 30s)",
  }],
  positionals: [],
  run() {
    return notAvailableYet("demo");
  },
};
