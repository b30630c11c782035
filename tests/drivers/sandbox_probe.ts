/**
 * Test-only driver for the sandbox tests. Never registered in drivers/registry.ts: tests load it through
 * `MachineWorkerOptions.driverModule` (with `PROBE_DESCRIPTION`), which machines.toml cannot reach.
 *
 * `options.action` says what a poll does:
 * - `probe`: tries every capability and reports, per capability, "ok" or the error class name;
 * - `segv`: calls a C function that dereferences null (the process dies of SIGSEGV);
 * - `uncaught`: throws from a timer (the driver's Web Worker dies) and never answers;
 * - `nonfinite`: returns NaN; `huge`: returns a 2 MiB string; `console`: console.log, then a normal reading;
 * - `spam`: 500 lines on stderr, then a normal reading;
 * - `wrong_id`: writes a reply to request 999 on stdout and never answers;
 * - `late_garbage`: answers, then writes garbage to stdout between polls;
 * - `batch`: a ReadingBatch of two readings (ts = a minute before the first poll + 2 x polls, and the next ms) whose cursor is
 *   `{ polls, initCursor }` (initCursor: the `ctx.cursor` this worker got) and whose status is `{ polls }`;
 * - `too_many_readings`: a batch of 1001 readings; `bad_reading`: a batch whose second reading holds NaN;
 * - `echo`: a normal reading `{ polls }`.
 *
 * Integrity (the driver as an attacker of the protocol and of its neighbours):
 * - `forge`: learns the request id (it wraps `self.onmessage`) and writes a telemetry reply of its own to
 *   stdout, with a guessed secret and a tiny `rss`, before answering normally;
 * - `double_reply`: posts a reply to the worker's main thread itself, then answers normally (two replies);
 * - `hog`: answers, then (idle) allocates and touches `hog_mb` MiB and keeps it;
 * - `busy_workers`: starts `workers` (8) nested Web Workers that busy-loop, then answers;
 * - `flood_stdout` / `flood_stderr`: answers, then (idle) writes to stdout (no newline) / stderr without end;
 * - `ffi_add`: calls the native library's `probe_add(2, 3)` and reports `{ library, sum }` (the path it got);
 * - `post_ts`: posts its own reading with `ts` = now + `ts_offset_ms` to the worker's thread, never returns;
 * - `spam_exit`: the 500 stderr lines of `spam`, then exits (so the next poll gets a fresh process);
 * - `imports`: tries `import()` of `npm:`, `jsr:`, `https:` and `http:` specifiers aimed at a local registry
 *   (`registry_port`) and reports each outcome as `"ok"` or the error's class and message.
 */
import type { Driver, DriverContext, DriverDescription, PollResult } from "../../drivers/types.ts";
import type { Metrics } from "../../src/record/mod.ts";

/** The probe's description, for `MachineWorkerOptions.driverDescription`. */
export const PROBE_DESCRIPTION: DriverDescription = {
  name: "__sandbox_probe",
  summary: "test driver: probes what the sandbox allows",
  network: true,
  libraryOption: "library",
  options: {
    action: { type: "string", default: "echo", description: "what a poll does" },
    library: { type: "path", description: "the native library this driver is given" },
    other_library: { type: "path", description: "a native library it is not given" },
    other_file: { type: "path", description: "a file it may not read" },
    write_file: { type: "path", description: "a file it may not write" },
    json_file: { type: "path", description: "a JSON file it may not import" },
    other_port: { type: "integer", description: "a port on 127.0.0.1 it may not connect to" },
    ts_offset_ms: { type: "integer", default: 0, description: "offset of the post_ts reading's ts" },
    hog_mb: { type: "integer", default: 300, description: "MiB the hog action allocates" },
    workers: { type: "integer", default: 8, description: "nested Web Workers of busy_workers" },
    registry_port: { type: "integer", description: "port of the local registry the imports action aims at" },
    npm_package: {
      type: "string",
      default: "left-pad-uncached",
      description: "an npm package not in the cache",
    },
  },
  sampleOptions: { action: "echo" },
};

async function attempt(f: () => unknown): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return e instanceof Error ? e.constructor.name : String(e);
  }
}

const FFI_SYMBOLS = {
  probe_add: { parameters: ["i32", "i32"], result: "i32" },
  probe_crash: { parameters: [], result: "i32" },
} as const;

const encoder = new TextEncoder();
const SPAM_LINE = (i: number) => `probe: spam line ${i} `.padEnd(255, "."); // 256 bytes with the newline
let lastRequest: Record<string, unknown> | null = null;
/** This Web Worker's global scope, as a driver sees it (the probe is type-checked as ordinary code). */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent) => unknown) | null;
  postMessage(m: unknown): void;
};
const held: Uint8Array[] = [];

async function importOutcome(specifier: string): Promise<string> {
  try {
    await import(specifier);
    return "ok";
  } catch (e) {
    return e instanceof Error ? `${e.constructor.name}: ${e.message.split("\n")[0]}` : String(e);
  }
}

/** Starts writing `bytes` to `stream` without end, in timer turns so the Web Worker's loop keeps going. */
function flood(stream: { writeSync(b: Uint8Array): number }, bytes: Uint8Array): void {
  const step = () => {
    for (let i = 0; i < 16; i++) stream.writeSync(bytes);
    setTimeout(step, 0);
  };
  setTimeout(step, 20);
}

class ProbeDriver implements Driver {
  #o: Readonly<Record<string, unknown>> = {};
  #ctx: DriverContext | null = null;
  #polls = 0;
  #batchBase: number | null = null;

  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void> {
    this.#o = options;
    this.#ctx = ctx;
    if (options.action === "forge") {
      // What an attacker does: see every request the worker's main thread passes on, ids included.
      const inner = scope.onmessage!;
      scope.onmessage = (e: MessageEvent) => {
        lastRequest = e.data;
        return inner(e);
      };
    }
    return Promise.resolve();
  }

  async poll(): Promise<PollResult> {
    const o = this.#o;
    const ctx = this.#ctx!;
    this.#polls++;
    switch (o.action) {
      case "probe": {
        const connect = async (hostname: string, port: number) =>
          (await Deno.connect({ hostname, port })).close();
        let ownFfi = -1;
        const own_ffi = await attempt(() => {
          const lib = Deno.dlopen(String(o.library), FFI_SYMBOLS);
          ownFfi = lib.symbols.probe_add(2, 3);
          lib.close();
        });
        return {
          own_net: await attempt(() => connect(ctx.host!, ctx.port!)),
          own_ffi,
          own_ffi_result: ownFfi,
          other_host: await attempt(() => connect("127.0.0.2", ctx.port!)),
          other_host_by_name: await attempt(() => connect("localhost", ctx.port!)),
          other_port: await attempt(() => connect(ctx.host!, Number(o.other_port))),
          read_file: await attempt(() => Deno.readTextFile(String(o.other_file))),
          write_file: await attempt(() => Deno.writeTextFile(String(o.write_file), "x")),
          env: await attempt(() => Deno.env.get("HOME")),
          run: await attempt(() => new Deno.Command(Deno.execPath(), { args: ["--version"] }).output()),
          other_ffi: await attempt(() =>
            Deno.dlopen(String(o.other_library), { other_add: { parameters: ["i32", "i32"], result: "i32" } })
          ),
          sys: await attempt(() => Deno.hostname()),
          import_file: await attempt(() => import(String(o.json_file), { with: { type: "json" } })),
        };
      }
      case "segv": {
        const lib = Deno.dlopen(String(o.library), FFI_SYMBOLS);
        return { never: lib.symbols.probe_crash() };
      }
      case "uncaught":
        setTimeout(() => {
          throw new Error("probe: uncaught in a timer");
        }, 1);
        return await new Promise<Metrics>(() => {});
      case "nonfinite":
        return { spindle_speed: NaN };
      case "huge":
        return { program: "x".repeat(2 * 1024 * 1024) };
      case "wrong_id":
        // Forges a reply to another request on the protocol stream, then never answers.
        Deno.stdout.writeSync(
          new TextEncoder().encode('{"type":"telemetry","id":999,"ts":1,"metrics":{},"rss":1}\n'),
        );
        return await new Promise<Metrics>(() => {});
      case "late_garbage":
        // Answers, then writes garbage while no request is outstanding (after each fresh worker's first poll).
        if (this.#polls === 1) {
          setTimeout(() => Deno.stdout.writeSync(new TextEncoder().encode("late garbage\n")), 20);
        }
        return { polls: this.#polls };
      case "spam":
        for (let i = 0; i < 500; i++) console.error(SPAM_LINE(i));
        return { polls: this.#polls };
      case "batch": {
        this.#batchBase ??= Date.now() - 60_000; // within the agent's window for reading times
        const ts = this.#batchBase + 2 * this.#polls;
        return {
          readings: [{ ts, metrics: { n: 2 * this.#polls } }, {
            ts: ts + 1,
            metrics: { n: 2 * this.#polls + 1 },
          }],
          cursor: { polls: this.#polls, initCursor: ctx.cursor ?? null },
          status: { polls: this.#polls },
        };
      }
      case "too_many_readings":
        return { readings: Array.from({ length: 1001 }, (_, i) => ({ ts: i, metrics: { i } })) };
      case "bad_reading":
        return { readings: [{ ts: 1, metrics: { a: 1 } }, { ts: 2, metrics: { a: NaN } }] };
      case "spam_exit":
        for (let i = 0; i < 500; i++) console.error(SPAM_LINE(i));
        setTimeout(() => Deno.exit(3), 50);
        return { polls: this.#polls };
      case "forge": {
        const forged = {
          type: "telemetry",
          id: lastRequest?.id,
          ts: Date.now(),
          metrics: { forged: 1 },
          rss: 1,
        };
        Deno.stdout.writeSync(encoder.encode(JSON.stringify({ ...forged, auth: "0".repeat(32) }) + "\n"));
        return { polls: this.#polls };
      }
      case "ffi_add": {
        const lib = Deno.dlopen(String(o.library), FFI_SYMBOLS);
        const sum = lib.symbols.probe_add(2, 3);
        lib.close();
        return { library: String(o.library), sum };
      }
      case "post_ts":
        scope.postMessage({
          type: "telemetry",
          ts: Date.now() + Number(o.ts_offset_ms),
          metrics: { posted: 1 },
        });
        return await new Promise<Metrics>(() => {});
      case "double_reply":
        scope.postMessage({ type: "telemetry", ts: Date.now(), metrics: { extra: 1 } });
        return { polls: this.#polls };
      case "hog":
        setTimeout(() => {
          for (let i = 0; i < Number(o.hog_mb); i++) held.push(new Uint8Array(1 << 20).fill(7));
        }, 20);
        return { polls: this.#polls };
      case "busy_workers":
        if (this.#polls === 1) {
          for (let i = 0; i < Number(o.workers); i++) {
            new Worker("data:text/javascript,for(;;){}", { type: "module" });
          }
        }
        return { polls: this.#polls };
      case "flood_stdout":
        flood(Deno.stdout, new Uint8Array(65536).fill(120)); // "xxxx..." without a newline
        return { polls: this.#polls };
      case "flood_stderr":
        flood(Deno.stderr, encoder.encode("probe: flood ".padEnd(4095, "!") + "\n"));
        return { polls: this.#polls };
      case "imports": {
        const at = `127.0.0.1:${o.registry_port}`;
        return {
          npm: await importOutcome(`npm:${o.npm_package ?? "left-pad-uncached"}@1.0.0`),
          jsr: await importOutcome("jsr:@simco/uncached@1.0.0"),
          https: await importOutcome(`https://${at}/mod.js`),
          http: await importOutcome(`http://${at}/mod.js`),
        };
      }
      case "console":
        console.log("probe: console.log from a driver");
        return { polls: this.#polls };
      default:
        return { polls: this.#polls };
    }
  }
}

/** Factory used by the sandbox's driver host (test hook). */
export function createDriver(): Driver {
  return new ProbeDriver();
}
