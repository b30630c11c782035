/**
 * `simco-agent dead-letters`: list, requeue or purge records the cloud rejected.
 *
 * `list` only reads (safe while `run` is active). `requeue` and `purge` change the buffer, so they take the
 * data-dir lock like `run` does and refuse while an agent holds it. `purge` deletes for good and needs --yes.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  acquireDataDirLock,
  BUFFER_FILE,
  type DeadLetter,
  readDeadLetters,
  TelemetryBuffer,
} from "../../buffer/mod.ts";
import type { Config } from "../../config/types.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT, UsageError } from "../command.ts";
import { audited } from "../audit.ts";
import { plural } from "../../util/human.ts";

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function formatList(rows: readonly DeadLetter[]): string {
  const lines = rows.map((d) =>
    `${d.id}  ${d.machine_id}  ts=${iso(d.ts)}  attempts=${d.attempts}  dead_at=${
      iso(d.dead_at)
    }  reason: ${d.reason}`
  );
  lines.push(`${rows.length} dead letter${rows.length === 1 ? "" : "s"}`);
  return lines.join("\n");
}

/** Opens the buffer under the data-dir lock, runs `fn`, closes and releases. */
async function withLockedBuffer<T>(config: Config, fn: (b: TelemetryBuffer) => T): Promise<T> {
  const dataDir = config.agent.dataDir;
  const lock = acquireDataDirLock(dataDir); // DataDirLockedError: exit 3 (cli/mod.ts)
  try {
    const buffer = TelemetryBuffer.open(dataDir, {
      maxRecords: config.buffer.maxRecords,
      whenFull: config.buffer.whenFull,
    });
    try {
      return fn(buffer);
    } finally {
      await buffer.close();
    }
  } finally {
    lock.release();
  }
}

/** The `dead-letters` command. */
export const deadLettersCommand: Command = {
  name: "dead-letters",
  summary: "list, requeue or purge records the cloud rejected",
  details: "list: print them (works while run is active). requeue: queue them for upload again. " +
    "purge: delete them for good (needs --yes). requeue and purge refuse while an agent uses the data_dir.",
  flags: [CONFIG_FLAG, { name: "yes", type: "boolean", description: "confirm purge" }],
  positionals: [{
    name: "ACTION",
    description: "list, requeue or purge",
    values: ["list", "requeue", "purge"],
  }],
  async run(args) {
    const config = await configFrom(args);
    const action = args.positionals[0];
    const path = join(config.agent.dataDir, BUFFER_FILE);
    if (action === "list") {
      console.log(formatList(readDeadLetters(config.agent.dataDir)));
      return EXIT.OK;
    }
    if (action === "purge" && args.flags.yes !== true) {
      const n = readDeadLetters(config.agent.dataDir).length;
      throw new UsageError(
        `purge deletes ${n} dead letter${
          n === 1 ? "" : "s"
        } for good: expected --yes to confirm, got no --yes`,
      );
    }
    if (!existsSync(path)) {
      console.log(`0 dead letters (no buffer at ${path})`);
      return EXIT.OK;
    }
    return await audited(config, `dead-letters ${action}`, async () => {
      if (action === "requeue") {
        const n = await withLockedBuffer(config, (b) => b.requeueDeadLetters());
        return {
          code: EXIT.OK,
          result: `requeued ${plural(n, "dead letter")}: the next run or drain uploads them again`,
        };
      }
      const n = await withLockedBuffer(config, (b) => b.purgeDeadLetters());
      return { code: EXIT.OK, result: `purged ${plural(n, "dead letter")}` };
    });
  },
};
