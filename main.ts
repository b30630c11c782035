/**
 * simco-agent entry point: hands the arguments to the CLI in src/ and exits with its code.
 *
 * A driver worker process (`__worker`, one per machine, started by the agent) loads only the sandbox's
 * worker module, not the CLI: less memory per machine (see bench/sandbox_bench.ts).
 * @module
 */
if (import.meta.main) {
  const { isWorkerInvocation, workerEntry } = await import("./src/sandbox/worker_main.ts");
  const run = isWorkerInvocation(Deno.args) ? workerEntry : (await import("./src/cli/mod.ts")).main;
  Deno.exit(await run(Deno.args));
}
