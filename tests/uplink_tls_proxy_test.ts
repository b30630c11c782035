/**
 * TLS and proxies: certificates are verified (an unknown CA is a retryable TLS error, nothing is lost),
 * `uplink.ca_file` adds a CA; Deno's fetch honours HTTP_PROXY, HTTPS_PROXY (CONNECT) and NO_PROXY by itself
 * (checked here with real proxies on loopback and real agent processes).
 */
import http from "node:http";
import { join } from "node:path";
import { startIngest } from "../src/ingest/mod.ts";
import { Uploader } from "../src/uplink/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { harness, keyFile, openBuffer, seed, uplinkFor } from "./helpers/uplink_env.ts";
import { RecordingLog } from "./helpers/log.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";
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
      log: new RecordingLog(),
    });
    const loop1 = untrusting.runLoop(ac1.signal);
    await waitFor("TLS failure", 10_000, () => untrusting.status().state === "backoff");
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
      log: new RecordingLog(),
    });
    const loop2 = trusting.runLoop(ac2.signal);
    await waitFor("upload over TLS", 10_000, () => buffer.stats().queued + buffer.stats().in_flight === 0);
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

/** A minimal CONNECT proxy (what HTTPS_PROXY points at): tunnels TCP, counts tunnels. */
function connectProxy() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let tunnels = 0;
  const handle = async (conn: Deno.Conn) => {
    conns.add(conn);
    let head = "";
    const buf = new Uint8Array(4096);
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return conn.close();
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = head.match(/^CONNECT ([^:\s]+):(\d+) HTTP/);
    if (!m) return conn.close();
    const up = await Deno.connect({ hostname: m[1], port: Number(m[2]) });
    conns.add(up);
    tunnels++;
    await conn.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
    await Promise.allSettled([conn.readable.pipeTo(up.writable), up.readable.pipeTo(conn.writable)]);
  };
  const accepting = (async () => {
    for await (const conn of listener) handle(conn).catch(() => {});
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    tunnels: () => tunnels,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting.catch(() => {});
    },
  };
}

Deno.test("HTTPS_PROXY: the agent tunnels through the proxy with CONNECT, TLS still verified end to end", async () => {
  const dir = await tempDir();
  const ingest = await startIngest({
    dbPath: join(dir.path, "ingest.db"),
    apiKey: "k-https",
    tls: { cert: TEST_SERVER_CERT_PEM, key: TEST_SERVER_KEY_PEM },
  });
  const proxy = connectProxy();
  try {
    const data = join(dir.path, "data");
    const buffer = openBuffer(data);
    await seed(buffer, 150);
    await buffer.close();
    const ca = join(dir.path, "ca.pem");
    Deno.writeTextFileSync(ca, TEST_CA_PEM);
    const opts = JSON.stringify({
      agentId: "a",
      uplink: uplinkFor(ingest.url, keyFile(dir.path, "k-https"), { caFile: ca }),
    });
    const child = harness(["upload", data, opts], "null", { HTTPS_PROXY: proxy.url, NO_PROXY: "" });
    const [st, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
    await child.stdout.cancel();
    assertEquals(st.code, 0, err);
    assert(proxy.tunnels() >= 1, "no CONNECT tunnel was opened");
    assertEquals(ingest.counts().unique, 150);
  } finally {
    await proxy.close();
    await ingest.close();
    await dir.cleanup();
  }
});
