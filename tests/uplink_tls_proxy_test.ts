/**
 * TLS and proxies: certificates are verified (an unknown CA is a retryable TLS error, nothing is lost),
 * `uplink.ca_file` adds a CA; Deno's fetch honours HTTP_PROXY and NO_PROXY by itself (checked here with a
 * real forward proxy on loopback and real agent processes).
 */
import http from "node:http";
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { Uploader } from "../src/uplink/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { collectingLog, harness, keyFile, openBuffer, seed, uplinkFor } from "./helpers/uplink_env.ts";
import { tempDir, waitFor } from "./helpers/uplink_records.ts";
import { TEST_CA_PEM, TEST_SERVER_CERT_PEM, TEST_SERVER_KEY_PEM } from "./helpers/uplink_tls.ts";

Deno.test("TLS: an unknown CA is refused (records kept), uplink.ca_file makes it trusted", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({
    dbPath: join(dir.path, "ingest.db"),
    apiKey: "k",
    tls: { cert: TEST_SERVER_CERT_PEM, key: TEST_SERVER_KEY_PEM },
  });
  const data = join(dir.path, "data");
  const buffer = openBuffer(data);
  try {
    assert(ingest.url.startsWith("https://127.0.0.1:"));
    await seed(buffer, 300);
    const key = keyFile(dir.path, "k");
    const ca = join(dir.path, "corp-ca.pem");
    Deno.writeTextFileSync(ca, TEST_CA_PEM);
    const ac1 = new AbortController();
    const untrusting = new Uploader(buffer, {
      agentId: "a",
      uplink: uplinkFor(ingest.url, key),
      dataDir: data,
      log: collectingLog(),
    });
    const loop1 = untrusting.runLoop(ac1.signal);
    await waitFor(() => untrusting.status().state === "backoff", 10_000, "TLS failure");
    ac1.abort();
    await loop1;
    assert(
      /certificate|UnknownIssuer|tls/i.test(untrusting.status().last_error ?? ""),
      untrusting.status().last_error!,
    );
    assertEquals(ingest.counts().requests, 0);
    assertEquals(buffer.stats().queued, 300);

    const ac2 = new AbortController();
    const trusting = new Uploader(buffer, {
      agentId: "a",
      uplink: uplinkFor(ingest.url, key, { caFile: ca }),
      dataDir: data,
      log: collectingLog(),
    });
    const loop2 = trusting.runLoop(ac2.signal);
    await waitFor(() => buffer.stats().queued + buffer.stats().in_flight === 0, 10_000, "upload over TLS");
    ac2.abort();
    await loop2;
    assertEquals(ingest.counts().unique, 300);
  } finally {
    await buffer.close();
    await ingest.close();
    await dir.cleanup();
  }
});

/** A minimal HTTP forward proxy (absolute-form requests) that counts what passes through it. */
async function forwardProxy() {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    const target = new URL(req.url!);
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: req.method,
        headers: req.headers,
      },
      (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    count: () => count,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

Deno.test("HTTP_PROXY is used by the agent's fetch, NO_PROXY bypasses it", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({ dbPath: join(dir.path, "ingest.db"), apiKey: "k" });
  const proxy = await forwardProxy();
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    await seed(buffer, 200, "m-a");
    await buffer.close();
    const opts = JSON.stringify({ agentId: "a", uplink: uplinkFor(ingest.url, keyFile(dir.path, "k")) });
    const run = async (env: Record<string, string>) => {
      const child = harness(["upload", data, opts], "null", env);
      const [st, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
      await child.stdout.cancel();
      assertEquals(st.code, 0, err);
    };
    await run({ HTTP_PROXY: proxy.url, NO_PROXY: "" });
    assert(proxy.count() >= 2, `proxy saw ${proxy.count()} requests`);
    assertEquals(ingest.counts().unique, 200);

    const again = openBuffer(data);
    await seed(again, 100, "m-b");
    await again.close();
    const seen = proxy.count();
    await run({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" });
    assertEquals(proxy.count(), seen, "NO_PROXY must bypass the proxy");
    assertEquals(ingest.counts().unique, 300);
    assertStringIncludes(ingest.url, "127.0.0.1");
  } finally {
    await proxy.close();
    await ingest.close();
    await dir.cleanup();
  }
});
