/** `simco-agent run`: poll the configured machines, buffer their telemetry and upload it (runs until stopped). */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "poll the configured machines, buffer their telemetry and upload it (runs until stopped)",
  flags: [CONFIG_FLAG],
  positionals: [],
  run() {
    return notAvailableYet("run");
  },
};
