/** `simco-agent drain`: upload everything buffered now, ignoring the backoff schedule. */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `drain` command. */
export const drainCommand: Command = {
  name: "drain",
  summary: "upload everything buffered now, ignoring the backoff schedule",
  flags: [CONFIG_FLAG, {
    name: "timeout",
    type: "string",
    value: "DURATION",
    description: "give up after this long (e.g. 10m); default: no limit",
  }],
  positionals: [],
  run() {
    return notAvailableYet("drain");
  },
};
