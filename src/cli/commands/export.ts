/** `simco-agent export`: write the queued records to a file for offline transfer (air-gapped sites). */
import { type Command, CONFIG_FLAG, notAvailableYet } from "../command.ts";

/** The `export` command. */
export const exportCommand: Command = {
  name: "export",
  summary: "write the queued records to a file for offline transfer (air-gapped sites)",
  flags: [CONFIG_FLAG, {
    name: "out",
    type: "string",
    value: "FILE",
    description: "the .simco file to write",
    required: true,
  }],
  positionals: [],
  run() {
    return notAvailableYet("export");
  },
};
