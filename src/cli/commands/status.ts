/**
 * `simco-agent status --config FILE [--json] [--watch]`: state of the buffer, the uplink and every machine,
 * from the data dir's status document, the lock and a read-only look at buffer.db (see src/engine/status.ts).
 * `--watch` redraws the table every second on a terminal, and prints it again every second (plain lines,
 * separated by a blank line) when the output is not a terminal; Ctrl-C ends it with exit 0.
 */
import { lockHolder, readBufferStats } from "../../buffer/mod.ts";
import type { Config } from "../../config/types.ts";
import { dataDirExists } from "../../datadir/mod.ts";
import { readStatusDocument } from "../../datadir/status_file.ts";
import { buildStatus, type StatusJson } from "../../engine/status.ts";
import { formatStatus } from "../../engine/status_format.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT } from "../command.ts";

/** The status of `config`'s data dir now. */
export function currentStatus(config: Config): StatusJson {
  const dataDir = config.agent.dataDir;
  const exists = dataDirExists(dataDir);
  return buildStatus(config, {
    pid: exists ? lockHolder(dataDir) : null,
    file: exists ? readStatusDocument(dataDir) : null,
    buffer: exists ? readBufferStats(dataDir) : null,
    dataDirExists: exists,
    now: Date.now(),
  });
}

const CLEAR = "\x1b[H\x1b[2J";

async function watch(config: Config, json: boolean): Promise<number> {
  const tty = Deno.stdout.isTerminal();
  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGINT", stop);
  const enc = new TextEncoder();
  try {
    let first = true;
    while (!ac.signal.aborted) {
      const s = currentStatus(config);
      const text = json ? JSON.stringify(s) : formatStatus(s, Date.now());
      const out = tty && !json ? `${CLEAR}${text}\n` : `${first || json ? "" : "\n"}${text}\n`;
      await Deno.stdout.write(enc.encode(out));
      first = false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        ac.signal.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
      });
    }
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
  }
  return EXIT.OK;
}

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  summary: "show buffer, uplink and machine state (works while run is active)",
  details: [
    "Reads <data_dir> without locking it: works from another process while 'run' is active, and when it",
    "is not (machines then show STOPPED with their last counters). STALE means the agent holds the data",
    "dir but has not updated its status for a while (stopped with SIGSTOP, hung, or its disk refuses",
    "writes). --json prints a stable document (one line per second with --watch).",
  ].join("\n"),
  flags: [
    CONFIG_FLAG,
    { name: "json", type: "boolean", description: "print JSON instead of a table" },
    { name: "watch", type: "boolean", description: "redraw every second until Ctrl-C" },
  ],
  positionals: [],
  async run(args) {
    const config = await configFrom(args);
    if (args.flags.watch) return await watch(config, args.flags.json === true);
    const status = currentStatus(config);
    console.log(args.flags.json ? JSON.stringify(status, null, 2) : formatStatus(status, Date.now()));
    return EXIT.OK;
  },
};
