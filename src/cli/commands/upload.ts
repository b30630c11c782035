/** `simco-agent upload`: upload a .simco export file through the configured uplink (see src/offline/mod.ts). */
import { resolve } from "node:path";
import { ExportFileError } from "../../offline/export_file.ts";
import { OfflineUsageError, uploadExport, UploadStoppedError } from "../../offline/mod.ts";
import { ProgressReporter } from "../progress.ts";
import { userCwd } from "../../runtime.ts";
import {
  type Command,
  CONFIG_FLAG,
  configFrom,
  durationFlag,
  EXIT,
  RejectedRecords,
  RuntimeFailure,
  UsageError,
} from "../command.ts";

/** The `upload` command. */
export const uploadCommand: Command = {
  name: "upload",
  summary: "upload a .simco export file through the configured uplink",
  details: [
    "Verifies the whole file first (a truncated or altered file is refused), then sends its records with",
    "their original ids: uploading a file twice, or also draining the same records from the agent, creates",
    "no duplicates. Records the cloud rejects are written to FILE.rejected.ndjson (exit 4).",
  ].join("\n"),
  flags: [CONFIG_FLAG, {
    name: "timeout",
    type: "string",
    value: "DURATION",
    description: "give up retrying after this long (e.g. 10m); default: no limit",
  }],
  positionals: [{ name: "FILE", description: "the .simco file written by export" }],
  async run(args) {
    const timeoutMs = durationFlag(args, "timeout");
    const config = await configFrom(args);
    const file = resolve(userCwd(), args.positionals[0]);
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    Deno.addSignalListener("SIGINT", onSigint);
    const progress = new ProgressReporter("upload");
    try {
      const r = await uploadExport(config, file, { timeoutMs, progress, signal: ac.signal });
      progress.done();
      if (r.rejected) {
        throw new RejectedRecords(
          `${r.rejected} record(s) rejected by the cloud, listed in ${r.rejectedFile}; the other ${r.sent} were sent`,
        );
      }
      console.log(`upload: ${r.sent} record(s) of agent ${r.header.agent_id} sent from ${file}`);
      return EXIT.OK;
    } catch (e) {
      progress.done();
      if (e instanceof OfflineUsageError) throw new UsageError(e.message);
      if (e instanceof ExportFileError || e instanceof UploadStoppedError) {
        throw new RuntimeFailure(e.message);
      }
      throw e;
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
  },
};
