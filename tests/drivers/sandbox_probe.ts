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
 * - `batch`: a ReadingBatch of two readings (ts 1000 + 2 x polls and the next ms) whose cursor is
 *   `{ polls, initCursor }` (initCursor: the `ctx.cursor` this worker got) and whose status is `{ polls }`;
 * - `too_many_readings`: a batch of 1001 readings; `bad_reading`: a batch whose second reading holds NaN;
 * - `echo`: a normal reading `{ polls }`.
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

class ProbeDriver implements Driver {
  #o: Readonly<Record<string, unknown>> = {};
  #ctx: DriverContext | null = null;
  #polls = 0;

  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void> {
    this.#o = options;
    this.#ctx = ctx;
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
        for (let i = 0; i < 500; i++) console.error(`probe: spam line ${i}`);
        return { polls: this.#polls };
      case "batch": {
        const ts = 1000 + 2 * this.#polls;
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
