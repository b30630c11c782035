/** `simco-agent demo [--duration 30s]`: the agent against simulated machines and a local ingest. */
import { formatSummary, runDemo } from "../../demo/mod.ts";
import { type Command, durationFlag, EXIT } from "../command.ts";

/** The `demo` command. */
export const demoCommand: Command = {
  name: "demo",
  summary: "run the agent against simulated machines and a local ingest (no config needed)",
  details:
    "Six simulated machines (three healthy, one flaky, one that hangs, one that crashes), the reference ingest\n" +
    "on 127.0.0.1 and the real agent between them, with short timeouts so the kill, the backoff and the breaker\n" +
    "all show. A live view refreshes on a terminal (a line every 5 s otherwise); a summary follows. Exit 0 when\n" +
    "the counts prove no record was lost, 1 otherwise.",
  flags: [{
    name: "duration",
    type: "string",
    value: "DURATION",
    description: "how long to run (default 30s)",
  }],
  positionals: [],
  async run(args) {
    const summary = await runDemo(durationFlag(args, "duration", 1000) ?? 30_000);
    console.log(formatSummary(summary));
    return summary.unaccounted === 0 ? EXIT.OK : EXIT.FAILURE;
  },
};
