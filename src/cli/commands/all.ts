/** Every subcommand, in the order `--help` lists them. A static list: `deno compile` bundles what it sees. */
import type { Command } from "../command.ts";
import { checkCommand } from "./check.ts";
import { deadLettersCommand } from "./dead_letters.ts";
import { demoCommand } from "./demo.ts";
import { drainCommand } from "./drain.ts";
import { exportCommand } from "./export.ts";
import { ingestCommand } from "./ingest.ts";
import { pollCommand } from "./poll.ts";
import { runCommand } from "./run.ts";
import { statusCommand } from "./status.ts";
import { uploadCommand } from "./upload.ts";
import { workerCommand } from "./worker.ts";

/** All commands. */
export const COMMANDS: readonly Command[] = [
  runCommand,
  drainCommand,
  statusCommand,
  checkCommand,
  pollCommand,
  exportCommand,
  uploadCommand,
  ingestCommand,
  deadLettersCommand,
  demoCommand,
  workerCommand,
];
