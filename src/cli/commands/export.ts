/** `simco-agent export`: write the queued records to a file for offline transfer (see src/offline/mod.ts). */
import { resolve } from "node:path";
import { ExportFileError } from "../../offline/export_file.ts";
import { exportQueued, OfflineUsageError } from "../../offline/mod.ts";
import { userCwd } from "../../runtime.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT, RuntimeFailure, UsageError } from "../command.ts";

/** The `export` command. */
export const exportCommand: Command = {
  name: "export",
  summary: "write the queued records to a file for offline transfer (air-gapped sites)",
  details: [
    "Writes every queued record to one gzip NDJSON file (header: agent id, count, created, SHA-256).",
    "By default the records also stay queued, so nothing exists only in a file that might never arrive;",
    "the cloud drops whichever copy arrives second. --remove deletes them from the buffer once the file",
    "has been written and read back intact. Needs the data dir to itself (stop 'run' first).",
  ].join("\n"),
  flags: [CONFIG_FLAG, {
    name: "out",
    type: "string",
    value: "FILE",
    description: "the .simco file to write",
    required: true,
  }, {
    name: "remove",
    type: "boolean",
    description: "delete the exported records from the buffer after the file is verified",
  }],
  positionals: [],
  async run(args) {
    const config = await configFrom(args);
    const out = resolve(userCwd(), String(args.flags.out));
    try {
      const { header, removed } = await exportQueued(config, out, args.flags.remove === true);
      console.log(
        `export: wrote ${header.count} record(s) to ${out} (sha256 ${header.sha256.slice(0, 16)}...); ` +
          (removed
            ? "removed them from the buffer"
            : "they also stay queued (the cloud drops duplicates; --remove to delete them from the buffer)"),
      );
      return EXIT.OK;
    } catch (e) {
      if (e instanceof OfflineUsageError) throw new UsageError(e.message);
      if (e instanceof ExportFileError) throw new RuntimeFailure(e.message);
      throw e;
    }
  },
};
