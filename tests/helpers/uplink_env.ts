/** Shared setup for the uplink tests: uplink sections, seeded buffers, harness processes. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TelemetryBuffer } from "../../src/buffer/mod.ts";
import type { UplinkSection } from "../../src/config/types.ts";
import { makeRecords } from "./uplink_records.ts";
import { denoScriptArgs } from "./deno_script.ts";

/** An `[uplink]` section for tests: short timeout and 1 s max backoff (the smallest the config allows). */
export function uplinkFor(url: string, keyFile: string, over: Partial<UplinkSection> = {}): UplinkSection {
  return {
    url,
    apiKeyEnv: null,
    apiKeyFile: keyFile,
    batchSize: 100,
    timeoutMs: 2_000,
    gzip: true,
    caFile: null,
    maxBackoffMs: 1_000,
    ...over,
  };
}

/** Opens the buffer of `dataDir` (no lock: tests own the dir). */
export function openBuffer(dataDir: string): TelemetryBuffer {
  return TelemetryBuffer.open(dataDir, { maxRecords: 10_000_000, whenFull: "drop_oldest" });
}

/** Enqueues `n` test records into `buffer` and waits for their commit; returns them. */
export async function seed(buffer: TelemetryBuffer, n: number, machine = "mill-01", base?: number) {
  const recs = makeRecords(n, machine, base);
  for (const r of recs) buffer.enqueue(r);
  await buffer.flush();
  return recs;
}

/** Writes an api key file in `dir` and returns its path. */
export function keyFile(dir: string, key: string): string {
  const p = join(dir, "api.key");
  Deno.writeTextFileSync(p, key + "\n");
  return p;
}

const HARNESS = fileURLToPath(new URL("../processes/uplink_harness.ts", import.meta.url));

/** Starts tests/processes/uplink_harness.ts as a real process. */
export function harness(
  args: string[],
  stdin: "piped" | "null" = "null",
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: denoScriptArgs(HARNESS, ...args),
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
}

/** Reads a child's stdout until a line equal to `word` appears (or the stream ends). */
export async function waitForLine(child: Deno.ChildProcess, word: string): Promise<boolean> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return false;
      buf += value;
      if (buf.split("\n").includes(word)) return true;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Writes a machines.toml for CLI tests (data dir `<dir>/data`, key file `<dir>/api.key`); returns its path. */
export function writeConfig(
  dir: string,
  url: string,
  opts: { batchSize?: number; maxBackoff?: string; timeout?: string; agentId?: string } = {},
): string {
  const path = join(dir, "machines.toml");
  Deno.writeTextFileSync(
    path,
    [
      "[agent]",
      `id = "${opts.agentId ?? "plant-test"}"`,
      'data_dir = "data"',
      'log_level = "info"',
      "[uplink]",
      `url = "${url}"`,
      'api_key_file = "api.key"',
      `batch_size = ${opts.batchSize ?? 200}`,
      `timeout = "${opts.timeout ?? "2s"}"`,
      `max_backoff = "${opts.maxBackoff ?? "1s"}"`,
      "[[machines]]",
      'id = "sim-1"',
      'driver = "simulator"',
      "",
    ].join("\n"),
  );
  return path;
}
