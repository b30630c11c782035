/** `simco-agent poll MACHINE_ID --config FILE`: polls one machine once through the real sandbox. */
import { makeRecord } from "../../record/mod.ts";
import { setupLogging } from "../../log/mod.ts";
import { getLog } from "../../log/mod.ts";
import { Confiner, machineWorkDir, MachineWorker } from "../../sandbox/mod.ts";
import { didYouMean } from "../../util/suggest.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT, RuntimeFailure, UsageError } from "../command.ts";

/** The `poll` command. */
export const pollCommand: Command = {
  name: "poll",
  summary: "poll one machine once through the sandbox and print the record as JSON",
  details:
    'Prints one JSON line {"id","machine_id","ts","metrics"} on stdout and exits 0; nothing is buffered\n' +
    "(a driver that reads several timestamped readings per poll prints one line per reading, oldest first).\n" +
    "On failure prints one line on stderr and exits 1. Works while 'run' is active.",
  flags: [CONFIG_FLAG],
  positionals: [{ name: "MACHINE_ID", description: "id of a [[machines]] entry" }],
  async run(args) {
    const config = await configFrom(args);
    const id = args.positionals[0];
    const machine = config.machines.find((m) => m.id === id);
    if (!machine) {
      const ids = config.machines.map((m) => m.id);
      throw new UsageError(
        `no machine "${id}" in ${config.file}${didYouMean(id, ids)} (expected one of: ${ids.join(", ")})`,
      );
    }
    // Only warnings and worse (e.g. the driver's stderr) reach the terminal; stdout carries the record alone.
    await setupLogging({ level: "warning" });
    const worker = new MachineWorker(machine, {
      log: getLog("worker", machine.id),
      workDir: machineWorkDir(config.agent.dataDir, machine.id),
      // Confined like under `run`; what is not enforced is logged by `run` (and shown by `status`), not here.
      confiner: new Confiner({
        mode: config.agent.confinement,
        workerUser: config.agent.workerUser,
        dataDir: config.agent.dataDir,
      }),
    });
    try {
      const outcome = await worker.poll();
      if (outcome.kind === "fail") {
        throw new RuntimeFailure(`machine ${id}: ${outcome.cause}: ${outcome.message}`);
      }
      // A driver that returns several readings (each with its source ts) prints one line per record.
      const readings = outcome.readings ?? [{ ts: outcome.ts, metrics: outcome.metrics }];
      for (const r of readings) console.log(JSON.stringify(makeRecord(machine.id, r.ts, r.metrics)));
      return EXIT.OK;
    } finally {
      await worker.close();
    }
  },
};
