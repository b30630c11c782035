/**
 * Test-only driver for the confinement tests (tests/sandbox_confine_test.ts): its poll calls the native
 * escape library (tests/fixtures/c/sandbox_escape.c), which tries each way out of the worker from C, and
 * returns what the library reported, one metric per attempt (0 or a positive value: it worked; a negative
 * errno: refused). With `action = "block"` the poll forks a sleeping child (if it can) and then blocks inside
 * a native call for good. Loaded through `MachineWorkerOptions.driverModule`, never registered.
 */
import type { Driver, DriverContext, DriverDescription } from "../../drivers/types.ts";
import type { Metrics } from "../../src/record/mod.ts";

/** The escape probe's description (the agent never imports driver code: tests pass it along). */
export const ESCAPE_DESCRIPTION: DriverDescription = {
  name: "__escape_probe",
  summary: "test driver: tries to escape the OS confinement from native code",
  network: true,
  libraryOption: "library",
  options: {
    action: { type: "string", default: "escape", description: "escape or block" },
    library: { type: "path", description: "the escape library" },
    needle: { type: "string", description: "a string in the agent's environment" },
    other_file: { type: "path", description: "a file outside the grant" },
    write_file: { type: "path", description: "a file outside the scratch folder" },
    system_marker: { type: "path", description: "a file the system() shell would create" },
    other_port: { type: "integer", description: "a second local port" },
    kill_signal: { type: "integer", description: "the signal sent to the parent" },
  },
  sampleOptions: {},
};

const SYMBOLS = {
  escape_read_parent_environ: { parameters: ["buffer"], result: "i32" },
  escape_read: { parameters: ["buffer"], result: "i32" },
  escape_write: { parameters: ["buffer"], result: "i32" },
  escape_system: { parameters: ["buffer"], result: "i32" },
  escape_fork_sleep: { parameters: [], result: "i32" },
  escape_connect: { parameters: ["i32"], result: "i32" },
  escape_bind: { parameters: [], result: "i32" },
  escape_kill_parent: { parameters: ["i32"], result: "i32" },
  escape_block: { parameters: [], result: "i32" },
} as const;

const c = (s: string) => new TextEncoder().encode(s + "\0");

class EscapeDriver implements Driver {
  #o: Readonly<Record<string, unknown>> = {};
  #port = 0;

  describe(): DriverDescription {
    return ESCAPE_DESCRIPTION;
  }

  init(options: Readonly<Record<string, unknown>>, ctx: DriverContext): Promise<void> {
    this.#o = options;
    this.#port = ctx.port ?? 0;
    return Promise.resolve();
  }

  poll(): Promise<Metrics> {
    const o = this.#o;
    const lib = Deno.dlopen(String(o.library), SYMBOLS).symbols;
    if (o.action === "block") {
      lib.escape_fork_sleep();
      return Promise.resolve({ never: lib.escape_block() });
    }
    return Promise.resolve({
      own_port: lib.escape_connect(this.#port),
      scratch_write: lib.escape_write(c("focas2.log")),
      read_environ: lib.escape_read_parent_environ(c(String(o.needle))),
      read_file: lib.escape_read(c(String(o.other_file))),
      write_file: lib.escape_write(c(String(o.write_file))),
      system: lib.escape_system(c(`echo escaped > ${o.system_marker}`)),
      fork: lib.escape_fork_sleep(),
      other_port: lib.escape_connect(Number(o.other_port)),
      bind: lib.escape_bind(),
      kill_parent: lib.escape_kill_parent(Number(o.kill_signal)),
    });
  }
}

/** Factory used by the sandbox's driver host (test hook). */
export function createDriver(): Driver {
  return new EscapeDriver();
}
