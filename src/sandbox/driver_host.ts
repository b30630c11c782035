/**
 * Web Worker entry: hosts one driver inside the worker process, with the permissions the worker process gave
 * this Web Worker (exactly the machine's `host:port`, exactly the driver's native library, nothing else).
 *
 * Messages from the worker process (src/sandbox/worker_main.ts): first `{op:"load", module}` (import a test
 * driver module, if any, while the process may still read files; answered `{type:"loaded"}`), then
 * `{op:"init", driver, options, ctx}`, `{op:"poll"}`, `{op:"close"}`, answered `{type:"ready"}`,
 * `{type:"telemetry", ts, metrics}`, `{type:"closed"}` or `{type:"error", code, message}`.
 *
 * Two things a Web Worker cannot do on its own are made to behave like they would in a process:
 * - `Deno.exit(code)` would silently end only this Web Worker, leaving the poll unanswered; here it asks the
 *   worker process to exit with that code (`{type:"exit", code}`) and blocks, so a driver that exits really
 *   ends its process.
 * - `console.log` and friends would write to stdout, which carries the protocol; here they go to stderr (the
 *   agent's log). A raw write to `Deno.stdout` still reaches the protocol stream and is caught there.
 */
/// <reference lib="deno.worker" />
import { DRIVERS } from "../../drivers/all.ts";
import type { Driver, DriverContext } from "../../drivers/types.ts";
import { checkMetrics, oneLine } from "./protocol.ts";

const post = (msg: unknown) => self.postMessage(msg);

const toStderr = console.error.bind(console);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.dir = toStderr;
console.dirxml = toStderr;
console.table = toStderr;

// deno-lint-ignore no-explicit-any
(Deno as any).exit = (code?: number): never => {
  post({ type: "exit", code: typeof code === "number" ? code : 0 });
  // Block this thread until the worker process exits; never return to the driver.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error("unreachable");
};

let driver: Driver | null = null;
let factory: (() => Driver) | null = null;

function errorText(e: unknown): string {
  if (e instanceof Error) return oneLine(`${e.name}: ${e.message}`);
  return oneLine(String(e));
}

function createDriver(name: string): Driver {
  if (factory) return factory();
  const f = Object.hasOwn(DRIVERS, name) ? DRIVERS[name] : undefined;
  if (!f) throw new Error(`unknown driver "${name}"`);
  return f();
}

async function handle(msg: Record<string, unknown>): Promise<unknown> {
  switch (msg.op) {
    case "load": {
      if (typeof msg.module === "string") {
        try {
          const m = await import(msg.module);
          if (typeof m.createDriver !== "function") throw new Error("module does not export createDriver()");
          factory = m.createDriver as () => Driver;
        } catch (e) {
          return { type: "loaded", problem: `cannot load driver module ${msg.module}: ${errorText(e)}` };
        }
      }
      return { type: "loaded" };
    }
    case "init": {
      if (driver) return { type: "error", code: "protocol", message: "init sent twice" };
      try {
        const d = createDriver(String(msg.driver));
        await d.init(msg.options as Record<string, unknown>, msg.ctx as DriverContext);
        driver = d;
        return { type: "ready" };
      } catch (e) {
        return { type: "error", code: "driver_error", message: `init failed: ${errorText(e)}` };
      }
    }
    case "poll": {
      if (!driver) return { type: "error", code: "protocol", message: "poll before init" };
      try {
        const metrics = await driver.poll();
        const ts = Date.now();
        const problem = checkMetrics(metrics);
        if (problem) return { type: "error", code: "protocol", message: `driver returned ${problem}` };
        return { type: "telemetry", ts, metrics };
      } catch (e) {
        return { type: "error", code: "driver_error", message: errorText(e) };
      }
    }
    case "close": {
      try {
        await driver?.close?.();
      } catch (e) {
        console.error(`driver close failed: ${errorText(e)}`);
      }
      driver = null;
      return { type: "closed" };
    }
    default:
      return { type: "error", code: "protocol", message: `unknown op ${JSON.stringify(String(msg.op))}` };
  }
}

self.onmessage = async (e: MessageEvent) => {
  let reply: unknown;
  try {
    reply = await handle(e.data as Record<string, unknown>);
  } catch (err) {
    reply = { type: "error", code: "driver_error", message: errorText(err) };
  }
  // A reply that cannot be cloned (a driver returned a function) would throw here; report it instead.
  try {
    post(reply);
  } catch (err) {
    post({ type: "error", code: "protocol", message: `reply not serialisable: ${errorText(err)}` });
  }
};
