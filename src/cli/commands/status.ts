/** `simco-agent status --config FILE [--json]`: state of the buffer, the uplink and every machine. */
import { lockHolder, readBufferStats } from "../../buffer/mod.ts";
import { buildStatus, formatStatus, readStatusFile } from "../../engine/status.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT } from "../command.ts";

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  summary: "show buffer, uplink and machine state (works while run is active)",
  details:
    "Reads <data_dir> without locking it: works from another process while 'run' is active, and when it\n" +
    "is not (machines then show STOPPED with their last counters). --json prints a stable document.",
  flags: [CONFIG_FLAG, { name: "json", type: "boolean", description: "print JSON instead of a table" }],
  positionals: [],
  async run(args) {
    const config = await configFrom(args);
    const dataDir = config.agent.dataDir;
    const status = buildStatus(config, {
      pid: lockHolder(dataDir),
      file: readStatusFile(dataDir),
      buffer: readBufferStats(dataDir),
    });
    console.log(args.flags.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    return EXIT.OK;
  },
};
