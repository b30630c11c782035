/** `simco-agent dead-letters`: list, requeue or purge records the cloud rejected. */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `dead-letters` command. */
export const deadLettersCommand: Command = {
  name: "dead-letters",
  summary: "list, requeue or purge records the cloud rejected",
  flags: [CONFIG_FLAG, { name: "yes", type: "boolean", description: "confirm purge" }],
  positionals: [{
    name: "ACTION",
    description: "list, requeue or purge",
    values: ["list", "requeue", "purge"],
  }],
  run() {
    return notAvailableYet("dead-letters");
  },
};
