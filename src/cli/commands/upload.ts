/** `simco-agent upload`: upload a .simco export file (see src/offline/mod.ts); needs no machines.toml. */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, readConfigText } from "../../config/load.ts";
import { parseUplinkConfig, type UplinkOverrides } from "../../config/uplink_only.ts";
import type { AgentSection, UplinkSection } from "../../config/types.ts";
import { recordSentAfterwards } from "../../datadir/status_file.ts";
import { getLog } from "../../log/mod.ts";
import { audited, type ManualResult } from "../audit.ts";
import { ExportFileError } from "../../offline/export_file.ts";
import { OfflineUsageError, uploadExport, UploadStoppedError } from "../../offline/mod.ts";
import { ProgressReporter } from "../progress.ts";
import { plural } from "../../util/human.ts";
import { userCwd } from "../../runtime.ts";
import {
  type Command,
  DEFAULT_CONFIG,
  durationFlag,
  EXIT,
  type ParsedArgs,
  RejectedRecords,
  RuntimeFailure,
  UsageError,
} from "../command.ts";

/**
 * The uplink settings from `--config` (optional; `[uplink]` alone is enough) and the uplink flags, and the
 * `[agent]` when the config is a full machines.toml.
 */
async function uplinkFrom(args: ParsedArgs): Promise<{ uplink: UplinkSection; agent: AgentSection | null }> {
  const cwd = userCwd();
  const str = (k: string) => typeof args.flags[k] === "string" ? args.flags[k] as string : undefined;
  const overrides: UplinkOverrides = {
    url: str("url"),
    api_key_env: str("api-key-env"),
    api_key_file: str("api-key-file"),
  };
  let file = str("config");
  if (file === undefined && overrides.url === undefined) {
    const path = join(cwd, DEFAULT_CONFIG);
    if (!existsSync(path)) {
      throw new UsageError(
        `missing --url URL (or --config FILE with an [uplink] url; no ${DEFAULT_CONFIG} here either, looked for ${path})`,
        true,
      );
    }
    file = DEFAULT_CONFIG;
  }
  let config = null;
  if (file !== undefined) {
    const read = await readConfigText(file, cwd);
    if ("problem" in read) throw new ConfigError([read.problem]);
    config = { text: read.text, file, absPath: read.absPath };
  }
  const r = parseUplinkConfig(config, overrides, cwd);
  if (!r.ok) throw new ConfigError(r.problems);
  return { uplink: r.uplink, agent: r.agent };
}

/** The `upload` command. */
export const uploadCommand: Command = {
  name: "upload",
  summary: "upload a .simco export file to the cloud (on a connected PC; no machines.toml needed)",
  details: [
    "Verifies the whole file first (a truncated or altered file is refused), then sends its records with",
    "their original ids: uploading a file twice, or also draining the same records from the agent, creates",
    "no duplicates. Records the cloud rejects are written to FILE.rejected.ndjson (exit 4).",
    "The ingest comes from --url and --api-key-env (or --api-key-file), or from the [uplink] of --config",
    "(a file with only [uplink] is enough; flags override it).",
  ].join("\n"),
  flags: [{
    name: "url",
    type: "string",
    value: "URL",
    description: "the ingest url, e.g. https://ingest.example.com/v1/telemetry",
  }, {
    name: "api-key-env",
    type: "string",
    value: "VAR",
    description: "environment variable holding the api key",
  }, {
    name: "api-key-file",
    type: "string",
    value: "FILE",
    description: "file holding the api key",
  }, {
    name: "config",
    type: "string",
    value: "FILE",
    description: "a config whose [uplink] to use instead (machines.toml, or a file with only [uplink])",
  }, {
    name: "timeout",
    type: "string",
    value: "DURATION",
    description: "give up retrying after this long (e.g. 10m); default: no limit",
  }],
  positionals: [{ name: "FILE", description: "the .simco file written by export" }],
  async run(args) {
    const timeoutMs = durationFlag(args, "timeout");
    const { uplink, agent } = await uplinkFrom(args);
    const file = resolve(userCwd(), args.positionals[0]);
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    Deno.addSignalListener("SIGINT", onSigint);
    const progress = new ProgressReporter("upload");
    // With a full machines.toml, the records sent count in its data dir's status.json (when nobody holds
    // it) and the command leaves its audit line in agent.log (when the data dir exists; never created).
    const count = async (sent: number) => {
      if (agent === null) return;
      const log = getLog("cli");
      const problem = (m: string) => log.warn(`cannot count the upload in status.json: ${m}`);
      // The records are sent: a data dir we cannot lock or write must not turn that into a failure.
      const r = await recordSentAfterwards(agent.dataDir, "upload", sent, problem).catch((e) => {
        problem(e instanceof Error ? e.message : String(e));
        return "failed";
      });
      if (r === "held") {
        log.info(
          `${
            plural(sent, "record")
          } uploaded while another process holds ${agent.dataDir}: not counted in its sent_total`,
        );
      }
    };
    const send = async (): Promise<ManualResult> => {
      try {
        const r = await uploadExport(uplink, file, { timeoutMs, progress, signal: ac.signal });
        progress.done();
        await count(r.sent);
        if (r.rejected) {
          throw new RejectedRecords(
            `${
              plural(r.rejected, "record")
            } rejected by the cloud, listed in ${r.rejectedFile}; the other ${r.sent} were sent`,
          );
        }
        return {
          code: EXIT.OK,
          result: `upload: ${plural(r.sent, "record")} of agent ${r.header.agent_id} sent from ${file}`,
        };
      } catch (e) {
        progress.done();
        if (e instanceof OfflineUsageError) throw new UsageError(e.message);
        if (e instanceof UploadStoppedError) {
          await count(e.sent);
          throw new RuntimeFailure(e.message);
        }
        if (e instanceof ExportFileError) throw new RuntimeFailure(e.message);
        throw e;
      }
    };
    try {
      if (agent === null) {
        const r = await send();
        console.log(r.result);
        return r.code;
      }
      return await audited({ agent }, `upload ${args.positionals[0]}`, send);
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
  },
};
