/**
 * `simco-agent run --config FILE`: polls every configured machine, buffers the telemetry and uploads it until
 * stopped. SIGINT/SIGTERM/SIGHUP (Ctrl-C, a closed SSH session, a service manager; Ctrl-Break on Windows)
 * stop gracefully and exit 0; a second signal forces the exit (committed records are safe in buffer.db;
 * workers are killed either way). SIGHUP stops rather than reloads: a service manager restarts the agent.
 */
import { ConfigError } from "../../config/load.ts";
import type { Config } from "../../config/types.ts";
import { Agent } from "../../engine/agent.ts";
import { serveRemoveRequest } from "../../offline/remove_request.ts";
import type { MetricsServer } from "../../engine/metrics_server.ts";
import { getLog, setupLogging, shutdownLogging } from "../../log/mod.ts";
import { type UplinkFinding, uplinkFindings } from "../../uplink/preflight.ts";
import { type Command, CONFIG_FLAG, configFrom, EXIT, UsageError } from "../command.ts";

/** Signals that stop the agent on this OS. */
export function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];
}

/**
 * Checks what `run` needs beyond a valid file: with an uplink url, an api key it can read, a usable ca_file
 * (src/uplink/preflight.ts, the same checks `check` prints). Throws a ConfigError listing every error;
 * returns the warnings (e.g. a world-readable key file) for the log.
 */
export function requireUplink(config: Config): UplinkFinding[] {
  if (!config.uplink.url) return []; // an air-gapped site: run collects and buffers only (export)
  const findings = uplinkFindings(config.uplink);
  const errors = findings.filter((f) => f.level === "error");
  if (errors.length) {
    throw new ConfigError(errors.map((f) => ({ file: config.file, key: f.key, message: f.message })));
  }
  return findings;
}

/** Resolves on the first stop signal; calls `onSecond` on the next one. Returns a function removing the listeners. */
export function onStopSignals(first: (sig: string) => void, onSecond: () => void): () => void {
  let count = 0;
  const handlers = stopSignals().map((sig) => {
    const h = () => (++count === 1 ? first(sig) : onSecond());
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return () => handlers.forEach(([sig, h]) => Deno.removeSignalListener(sig, h));
}

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "poll the configured machines, buffer their telemetry and upload it (runs until stopped)",
  details:
    "Stop with Ctrl-C, SIGTERM or SIGHUP: polling stops, the upload in flight finishes or returns its records to\n" +
    "the buffer, workers are stopped and the buffer is closed; exit 0. A second signal forces the exit.\n" +
    "Logs go to stderr and <data_dir>/logs/agent.log; state for 'status' to <data_dir>/status.json.\n" +
    "Without [uplink] (an air-gapped site) it collects and buffers only; carry records out with 'export'.",
  flags: [CONFIG_FLAG],
  positionals: [],
  async run(args) {
    const config = await configFrom(args);
    const warnings = requireUplink(config);
    await setupLogging({
      level: config.agent.logLevel,
      dataDir: config.agent.dataDir,
      format: config.agent.logFormat,
    });
    const log = getLog("engine");
    for (const w of warnings) log.warn(`${w.key}: ${w.message}`);
    const listen = config.agent.metricsListen;
    const agent = new Agent(config, {
      serveRequests: (buffer) => serveRemoveRequest(config.agent.dataDir, buffer, log),
      startupExtra: [listen ? `metrics on ${listen.hostname}:${listen.port}` : "metrics off"],
    });
    // Listen before starting: a stop signal during start-up (a service manager stopping at once) is graceful too.
    let forced = false;
    const stopRequested = Promise.withResolvers<void>();
    const remove = onStopSignals((sig) => {
      log.info(`${sig} received: stopping (send it again to force)`);
      stopRequested.resolve();
    }, () => {
      forced = true;
      log.warn("second signal: forcing exit");
      void agent.forceStop().finally(() => Deno.exit(EXIT.FORCED));
    });
    try {
      await agent.start();
    } catch (e) {
      remove();
      await shutdownLogging();
      throw e;
    }
    let metrics: MetricsServer | null = null;
    if (config.agent.metricsListen) {
      try {
        // Loaded only when asked for: prom-client costs every other start time.
        const { startMetricsServer } = await import("../../engine/metrics_server.ts");
        metrics = await startMetricsServer(agent, config.agent.metricsListen, log);
      } catch (e) {
        remove();
        await agent.stop();
        await shutdownLogging();
        throw new UsageError(e instanceof Error ? e.message : String(e));
      }
    }
    await stopRequested.promise;
    await metrics?.close();
    await agent.stop();
    remove();
    await shutdownLogging();
    return forced ? EXIT.FORCED : EXIT.OK;
  },
};
