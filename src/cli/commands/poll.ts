/** `simco-agent poll`: poll one machine once through the sandbox and print the record as JSON. */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `poll` command. */
export const pollCommand: Command = {
  name: "poll",
  summary: "poll one machine once through the sandbox and print the record as JSON",
  flags: [CONFIG_FLAG],
  positionals: [{ name: "MACHINE_ID", description: "id of a [[machines]] entry" }],
  run() {
    return notAvailableYet("poll");
  },
};
