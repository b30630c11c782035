/** `simco-agent export`: write the buffered records to a file for offline transfer (src/offline/export_records.ts). */
import { resolve } from "node:path";
import { ExportFileError } from "../../offline/export_file.ts";
import { OfflineUsageError } from "../../offline/mod.ts";
import { exportRecords } from "../../offline/export_records.ts";
import { plural } from "../../util/human.ts";
import { userCwd } from "../../runtime.ts";
import { audited } from "../audit.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT, RuntimeFailure, UsageError } from "../command.ts";

/** The `export` command. */
export const exportCommand: Command = {
  name: "export",
  summary: "write the buffered records to a file for offline transfer (air-gapped sites)",
  details: [
    "Writes the buffered records to one gzip NDJSON file (header: agent id, count, created, SHA-256), from one",
    "consistent snapshot: works while 'run' is active, collection goes on. By default the records also stay",
    "in the buffer, so nothing exists only in a file that might never arrive; the cloud drops whichever copy",
    "arrives second. --remove deletes them from the buffer once the file is on disk and read back intact",
    "(through the running agent when 'run' is active). --since-last writes only records no earlier export",
    "contained (the mark is <data_dir>/export-mark.json). Nothing to export: no file, exit 5.",
  ].join("\n"),
  flags: [CONFIG_FLAG, {
    name: "out",
    type: "string",
    value: "FILE",
    description: "the .simco file to write",
    required: true,
  }, {
    name: "since-last",
    type: "boolean",
    description: "only records that no earlier export of this data dir contained",
  }, {
    name: "remove",
    type: "boolean",
    description: "delete the exported records from the buffer after the file is verified",
  }],
  positionals: [],
  async run(args) {
    const config = await configFrom(args);
    const out = resolve(userCwd(), String(args.flags.out));
    // Ctrl-C while writing or verifying: stop at once (safe at any moment: no file gets its final name
    // unfinished, nothing is removed before verification). While waiting for the running agent: withdraw
    // the removal request first, so the agent does not remove after the user said stop.
    const ac = new AbortController();
    let waiting = false;
    const onSigint = () => {
      if (waiting) return ac.abort();
      console.error("export: interrupted; nothing removed from the buffer");
      Deno.exit(130);
    };
    Deno.addSignalListener("SIGINT", onSigint);
    const what = `export --out ${args.flags.out}${args.flags["since-last"] ? " --since-last" : ""}${
      args.flags.remove ? " --remove" : ""
    }`;
    // Audited (src/cli/audit.ts): one line in agent.log with the result; not after Ctrl-C (Deno.exit above).
    try {
      return await audited(config, what, async () => {
        try {
          const r = await exportRecords(config, out, {
            remove: args.flags.remove === true,
            sinceLast: args.flags["since-last"] === true,
            signal: ac.signal,
            onWaiting: (w) => waiting = w,
            onRunning: (pid) =>
              console.error(
                `export: simco-agent run (pid ${
                  pid ?? "?"
                }) is active; reading a snapshot, collection goes on`,
              ),
          });
          if (r.header === null) {
            return {
              code: EXIT.NOTHING,
              stream: "stderr",
              result: `simco-agent export: nothing to export from ${config.agent.dataDir} (${
                args.flags["since-last"] ? "no record since the last export" : "the buffer is empty"
              }); no file written`,
            };
          }
          const wrote = `export: wrote ${plural(r.header.count, "record")} to ${out} (sha256 ${
            r.header.sha256.slice(0, 16)
          }...)`;
          if (r.removeProblem !== null) {
            throw new RuntimeFailure(
              `${
                wrote.slice("export: ".length)
              }, but the records were NOT removed from the buffer: ${r.removeProblem} ` +
                "(the file is complete; they stay queued)",
            );
          }
          return {
            code: EXIT.OK,
            result: `${wrote}; ` +
              (r.removed !== null
                ? `removed ${r.removed} of them from the buffer` +
                  (r.removed < r.header.count
                    ? ` (${r.header.count - r.removed} were being uploaded or already gone)`
                    : "")
                : "they also stay in the buffer (the cloud drops duplicates; --remove to delete them)"),
          };
        } catch (e) {
          if (e instanceof OfflineUsageError) throw new UsageError(e.message);
          if (e instanceof ExportFileError) throw new RuntimeFailure(e.message);
          throw e;
        }
      });
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
  },
};
