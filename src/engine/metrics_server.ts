/**
 * The opt-in HTTP endpoint of `[agent] metrics_listen` (off by default): `GET /health` (200 or 503 with a
 * JSON body of reasons, health.ts) and `GET /metrics` (Prometheus text, metrics.ts). Runs in the agent
 * process beside the engine, never in a worker. Anything but loopback is logged as a WARN at start: the
 * endpoint has no authentication and shows machine ids and error texts.
 */
import { getLog, type Log } from "../log/mod.ts";
import { staleAfterMs } from "../datadir/status_file.ts";
import type { Agent } from "./agent.ts";
import { type Health, healthOf, isLoopback } from "./health.ts";
import { agentRegistry } from "./metrics.ts";

/** A listening endpoint. */
export interface MetricsServer {
  /** `http://host:port` as bound (the port is the real one when 0 was asked for). */
  readonly url: string;
  /** Stops listening. */
  close(): Promise<void>;
}

/** The agent's health now. */
export function agentHealth(agent: Agent): Health {
  const last = agent.statusWriter?.last ?? null;
  const up = agent.uplinkStatus();
  return healthOf({
    bufferStorageError: agent.buffer?.stats().storage_error ?? null,
    uplinkState: up.state,
    uplinkLastError: up.last_error,
    machineStates: agent.machines().map((m) => m.state),
    statusWrittenAt: last?.updated_at ?? null,
    statusFailing: agent.statusWriter?.failing ?? false,
    staleAfterMs: staleAfterMs(last),
    now: Date.now(),
  });
}

/** Starts the endpoint for a started agent. Throws (one line) when the address cannot be bound. */
export function startMetricsServer(
  agent: Agent,
  listen: { hostname: string; port: number },
  log: Log = getLog("engine"),
): Promise<MetricsServer> {
  const registry = agentRegistry(agent);
  if (!isLoopback(listen.hostname)) {
    log.warn(
      `metrics_listen ${listen.hostname}:${listen.port} accepts connections from other hosts; /health and ` +
        `/metrics have no authentication (use 127.0.0.1 and a local scraper, or a firewall)`,
    );
  }
  const ready = Promise.withResolvers<MetricsServer>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: listen.hostname,
      port: listen.port,
      onListen: (addr) => {
        const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
        const url = `http://${host}:${addr.port}`;
        log.info(`metrics: serving ${url}/health and ${url}/metrics`);
        ready.resolve({ url, close: () => server.shutdown() });
      },
      onError: (e) => {
        log.error(`metrics endpoint: ${e instanceof Error ? e.message : String(e)}`);
        return new Response("internal error\n", { status: 500 });
      },
    }, async (req) => {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed (expected GET)\n", {
          status: 405,
          headers: { allow: "GET, HEAD" },
        });
      }
      if (path === "/health") {
        const h = agentHealth(agent);
        return Response.json(h, { status: h.status === "ok" ? 200 : 503 });
      }
      if (path === "/metrics") {
        return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
      }
      return new Response("not found (expected /health or /metrics)\n", { status: 404 });
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`agent.metrics_listen ${listen.hostname}:${listen.port}: cannot listen (${why})`);
  }
  return ready.promise;
}
