/** `simco-agent drain`: upload everything buffered now, ignoring the backoff schedule (see src/engine/drain.ts). */
import { getLog } from "../../log/mod.ts";
import { plural } from "../../util/human.ts";
import { audited } from "../audit.ts";
import { drainBuffer, DrainConfigError } from "../../engine/drain.ts";
import { ProgressReporter } from "../progress.ts";
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

/** The `drain` command. */
export const drainCommand: Command = {
  name: "drain",
  summary: "upload everything buffered now, ignoring the backoff schedule",
  details: [
    "Works whether or not 'run' is active on the same data dir: without it, drain uploads itself; with it,",
    "drain asks the running agent to upload now and shows the progress. Retry-After answers are still",
    "honoured. Exit 0 when the buffer is empty; 4 when it is empty but some records became dead letters;",
    "1 with the number of records left on timeout or when the cloud refuses the key, the url or the data.",
  ].join("\n"),
  flags: [CONFIG_FLAG, {
    name: "timeout",
    type: "string",
    value: "DURATION",
    description: "give up after this long (e.g. 10m); default: no limit",
  }],
  positionals: [],
  async run(args) {
    const timeoutMs = durationFlag(args, "timeout");
    const config = await configFrom(args);
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    Deno.addSignalListener("SIGINT", onSigint);
    const progress = new ProgressReporter("drain");
    const what = `drain${timeoutMs === null ? "" : ` --timeout ${args.flags.timeout}`}`;
    try {
      return await audited(config, what, async () => {
        const report = await drainBuffer(config, {
          timeoutMs,
          progress,
          signal: ac.signal,
          log: getLog("uplink"),
          onMode: (via, pid) => {
            if (via === "run") {
              console.error(
                `drain: simco-agent run (pid ${
                  pid ?? "?"
                }) holds ${config.agent.dataDir}; asking it to upload now`,
              );
            }
          },
        });
        progress.done();
        const dead = report.deadLettered > 0
          ? `; ${plural(report.deadLettered, "record")} rejected by the cloud moved to dead letters ` +
            `(simco-agent dead-letters list --config ${args.flags.config})`
          : "";
        if (report.empty) {
          return {
            code: dead ? 4 : EXIT.OK,
            result: `drain: done, ${plural(report.sent, "record")} sent, buffer empty${dead}`,
            thenThrow: dead
              ? new RejectedRecords(`${plural(report.deadLettered, "record")} became dead letters`)
              : undefined,
          };
        }
        throw new RuntimeFailure(
          `stopped with ${plural(report.left, "record")} left: ${report.problem}${dead}`,
        );
      }, { createsDataDir: true, consoleLevel: config.agent.logLevel });
    } catch (e) {
      progress.done();
      if (e instanceof DrainConfigError) throw new UsageError(e.message);
      throw e;
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
    }
  },
};
