/** `simco-agent upload`: upload a .simco export file through the configured uplink. */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `upload` command. */
export const uploadCommand: Command = {
  name: "upload",
  summary: "upload a .simco export file through the configured uplink",
  flags: [CONFIG_FLAG],
  positionals: [{ name: "FILE", description: "the .simco file written by export" }],
  run() {
    return notAvailableYet("upload");
  },
};
