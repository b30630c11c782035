/** `simco-agent status`: show buffer, uplink and machine state (works while run is active). */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  summary: "show buffer, uplink and machine state (works while run is active)",
  flags: [CONFIG_FLAG, { name: "json", type: "boolean", description: "print JSON instead of a table" }],
  positionals: [],
  run() {
    return notAvailableYet("status");
  },
};
