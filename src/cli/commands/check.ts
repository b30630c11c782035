/** `simco-agent check --config FILE`: validates the configuration completely and prints a summary. */
import { formatDuration } from "../../config/duration.ts";
import { ConfigError } from "../../config/load.ts";
import { type Config, formatProblem } from "../../config/types.ts";
import { uplinkFindings } from "../../uplink/preflight.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT } from "../command.ts";

/** The summary printed by `check` for a valid configuration. */
export function summarize(config: Config): string {
  const rows = config.machines.map((m) => {
    const target = m.host === null ? "-" : `${m.host}:${m.port}`;
    return [m.id, m.driver, target, formatDuration(m.intervalMs), formatDuration(m.timeoutMs)];
  });
  const header = ["MACHINE", "DRIVER", "TARGET", "INTERVAL", "TIMEOUT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [
    `configuration OK: ${config.file}`,
    `agent id:  ${config.agent.id}`,
    `data dir:  ${config.agent.dataDir}`,
    `uplink:    ${config.uplink.url ?? "none (offline: run collects and buffers only; use export)"}`,
    `buffer:    at most ${config.buffer.maxRecords} records, when full: ${config.buffer.whenFull}`,
    `machines:  ${config.machines.length}`,
    "",
    fmt(header),
    ...rows.map(fmt),
  ].join("\n");
}

/** The `check` command. */
export const checkCommand: Command = {
  name: "check",
  summary: "validate machines.toml (every key and each driver's options) and print a summary",
  details:
    "Prints every problem found, one per line (file:line: key: what was expected, what was found), and exits 2;\n" +
    "exits 0 with a summary when the file is valid (warnings, e.g. a world-readable key file, on stderr).\n" +
    "Also checks what run needs: an api key it can read, a usable ca_file. Touches neither the data dir nor\n" +
    "the network.",
  flags: [CONFIG_FLAG],
  positionals: [],
  async run(args) {
    const config = await configFrom(args);
    // What `run` would refuse or warn about beyond the file itself (api key, ca_file), without connecting.
    const findings = uplinkFindings(config.uplink);
    const problem = (f: (typeof findings)[number]) => ({ file: config.file, key: f.key, message: f.message });
    const errors = findings.filter((f) => f.level === "error" && !f.fromEnvironment);
    if (errors.length) throw new ConfigError(errors.map(problem));
    for (const f of findings) {
      const note = f.fromEnvironment
        ? " (not set in this shell: run refuses to start unless it is set there)"
        : "";
      console.error(`warning: ${formatProblem(problem(f))}${note}`);
    }
    console.log(summarize(config));
    return EXIT.OK;
  },
};
