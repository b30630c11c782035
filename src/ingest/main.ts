/**
 * The reference ingest as a child process of the benchmarks (people use `simco-agent ingest` instead,
 * src/cli/commands/ingest.ts, which never reads stdin):
 * `deno run -A src/ingest/main.ts --db FILE [--port N] [--api-key-env NAME]`. Prints one JSON line
 * `{"url": ..., "port": ...}` on stdout when listening, then serves until stdin closes or SIGINT/SIGTERM.
 */
import { startIngest } from "./mod.ts";

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const db = arg("db");
  if (!db) {
    console.error("ingest: missing --db FILE");
    Deno.exit(2);
  }
  const keyEnv = arg("api-key-env");
  const ingest = await startIngest({
    dbPath: db,
    port: Number(arg("port") ?? 0),
    apiKey: keyEnv ? Deno.env.get(keyEnv) : undefined,
  });
  console.log(JSON.stringify({ url: ingest.url, port: ingest.port }));
  const stop = async () => {
    await ingest.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  // Serve until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  await stop();
}
