/**
 * Hosts one driver inside the worker process's Web Worker, with the permissions the worker process gave that
 * Web Worker (exactly the machine's `host:port`, exactly the driver's native library, nothing else).
 *
 * The Web Worker's entry is a two-line module that worker_main.ts builds for the machine's driver: it imports
 * this file first (so the overrides below are in place before any driver code runs), then the driver's own
 * module (the registry's `module` URL), and calls {@link hostDriver} with its `createDriver`. The driver's module
 * graph is thereby the Web Worker's static graph, loaded before the worker process drops its permissions: the
 * driver needs (and gets) no read access to its own files, and no other driver is ever loaded into this process.
 *
 * {@link hostDriver} answers `{type:"loaded"}` at once, then serves `{op:"init", driver, options, ctx}`,
 * `{op:"poll"}`, `{op:"close"}` from the worker process (src/sandbox/worker_main.ts), answered `{type:"ready"}`,
 * `{type:"telemetry", ts, metrics}` (or `{type:"telemetry", ts, readings, cursor?}` for a driver that returned a
 * ReadingBatch), `{type:"closed"}` or `{type:"error", code, message}`.
 *
 * Two things a Web Worker cannot do on its own are made to behave like they would in a process:
 * - `Deno.exit(code)` would silently end only this Web Worker, leaving the poll unanswered; here it asks the
 *   worker process to exit with that code (`{type:"exit", code}`) and blocks, so a driver that exits really
 *   ends its process.
 * - `console.log` and friends would write to stdout, which carries the protocol; here they go to stderr (the
 *   agent's log). A raw write to `Deno.stdout` still reaches the protocol stream and is caught there.
 */
/// <reference lib="deno.worker" />
import type { Driver, DriverContext, DriverFactory } from "../../drivers/types.ts";
import { checkTelemetry, isReadingBatch, oneLine } from "./protocol.ts";

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

function errorText(e: unknown): string {
  if (e instanceof Error) return oneLine(`${e.name}: ${e.message}`);
  return oneLine(String(e));
}

async function handle(factory: DriverFactory, msg: Record<string, unknown>): Promise<unknown> {
  switch (msg.op) {
    case "init": {
      if (driver) return { type: "error", code: "protocol", message: "init sent twice" };
      try {
        const d = factory();
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
        const result = await driver.poll();
        const ts = Date.now();
        // Only the known fields go on: an undefined cursor or status is left out, not sent as null.
        const body: Record<string, unknown> = isReadingBatch(result)
          ? { readings: result.readings }
          : { metrics: result };
        if (isReadingBatch(result)) {
          if (result.cursor !== undefined) body.cursor = result.cursor;
          if (result.status !== undefined) body.status = result.status;
        }
        const problem = checkTelemetry(body);
        if (problem) return { type: "error", code: "protocol", message: `driver returned ${problem}` };
        return { type: "telemetry", ts, ...body };
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

/**
 * Serves the worker process's requests with drivers made by `createDriver` (the driver module's export), after
 * telling it that the driver's module graph has loaded.
 */
export function hostDriver(createDriver: unknown): void {
  if (typeof createDriver !== "function") {
    post({ type: "loaded", problem: "the driver module does not export createDriver()" });
    return;
  }
  const factory = createDriver as DriverFactory;
  self.onmessage = async (e: MessageEvent) => {
    let reply: unknown;
    try {
      reply = await handle(factory, e.data as Record<string, unknown>);
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
  post({ type: "loaded" });
}
