/**
 * End-to-end helpers: a temporary plant folder with a machines.toml pointing at a real reference ingest on
 * 127.0.0.1, and `simco-agent run` as a real subprocess (same code path as the binary).
 */
import { join } from "node:path";
import { type Ingest, startIngest } from "../../src/ingest/mod.ts";
import { type CliProcess, spawnCli } from "./cli.ts";
import { secretLeaks } from "./secrets.ts";

/** A running `simco-agent run` subprocess. */
export type AgentProcess = CliProcess;

/** A temporary plant: folder, ingest, config file. */
export interface Plant {
  /** Temporary folder (removed by close). */
  readonly dir: string;
  /** The ingest (in this test process). */
  readonly ingest: Ingest;
  /** Path of machines.toml. */
  readonly config: string;
  /** Environment holding the api key. */
  readonly env: Record<string, string>;
  /** Starts `run` on the config. */
  startAgent(): AgentProcess;
  /**
   * Kills agents still running (SIGKILL), stops the ingest and removes the folder; throws when the api key
   * appears in the agents' stderr or in any file under data/logs (tests/helpers/secrets.ts).
   */
  close(): Promise<void>;
}

/** Extra options of {@link makePlant}. */
export interface PlantOptions {
  /** `[agent] log_level` (default: not written, i.e. info). "debug" logs one line per buffered record. */
  readonly logLevel?: "debug" | "info" | "warning" | "error";
  /** Leave `[uplink]` out (an air-gapped site: run collects and buffers only). The ingest still runs. */
  readonly offline?: boolean;
  /** More `[agent]` lines (e.g. `metrics_listen = "127.0.0.1:0"`). */
  readonly agentExtra?: string;
}

/** Creates a plant whose machines.toml is `[agent]`+`[uplink]` (generated; none when offline) followed by `rest`. */
export async function makePlant(rest: string, uplinkExtra = "", opts: PlantOptions = {}): Promise<Plant> {
  const dir = await Deno.makeTempDir({ prefix: "simco-e2e-" });
  const key = "test-key-" + crypto.randomUUID();
  const ingest = await startIngest({ dbPath: join(dir, "ingest.db"), apiKey: key });
  const config = join(dir, "machines.toml");
  await Deno.writeTextFile(
    config,
    `[agent]\nid = "e2e"\ndata_dir = "data"\n${opts.logLevel ? `log_level = "${opts.logLevel}"\n` : ""}${
      opts.agentExtra ? opts.agentExtra + "\n" : ""
    }\n` +
      (opts.offline ? "" : `[uplink]\nurl = "${ingest.url}"\napi_key_env = "E2E_KEY"\n` +
        `max_backoff = "1s"\ntimeout = "2s"\n${uplinkExtra}\n`) +
      rest,
  );
  const env = { E2E_KEY: key, NO_COLOR: "1" };
  const agents: AgentProcess[] = [];
  return {
    dir,
    ingest,
    config,
    env,
    startAgent() {
      const agent = spawnCli(["run", "--config", config], { cwd: dir, env });
      agents.push(agent);
      return agent;
    },
    async close() {
      for (const a of agents) {
        try {
          a.child.kill("SIGKILL");
        } catch { /* already exited */ }
        await a.status;
      }
      await ingest.close();
      const leaks = secretLeaks(key, join(dir, "data", "logs"), agents.map((a) => a.stderr()));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (leaks.length) throw new Error(`the api key appears in: ${leaks.join(", ")}`);
    },
  };
}
