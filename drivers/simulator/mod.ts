/**
 * Simulator driver: realistic CNC telemetry from a seed (model.ts), and configurable misbehaviour for tests
 * and the demo. See README.md beside this file.
 *
 * Behaviours (`options.behaviour`), each after `misbehave_after` normal polls of a fresh worker:
 * - `healthy`: every poll answers;
 * - `flaky`: a poll fails (throws) with probability `fail_rate`;
 * - `slow`: every poll takes `delay`;
 * - `hang`: the poll never answers: a busy loop that never yields (only killing the process stops it);
 * - `crash`: the process exits mid-poll (`Deno.exit(134)`, as after an abort);
 * - `leak`: every poll retains `leak_mb` MiB more (touched, so it is resident);
 * - `garbage`: the poll writes non-JSON to stdout (the protocol stream) before answering.
 *
 * Independently of the behaviour, every poll fails while the clock is before `fail_until` (epoch ms): an outage
 * that ends by itself, which survives worker recycling (tests of the breaker's recovery use it).
 */
import type { Metrics } from "../../src/record/mod.ts";
import type { Driver, DriverContext } from "../types.ts";
import { type Behaviour, BEHAVIOURS } from "./description.ts";
import { CncModel, seededRandom } from "./model.ts";

const MIB = 1024 * 1024;

/** The simulator driver. */
export class SimulatorDriver implements Driver {
  #model: CncModel | null = null;
  #behaviour: Behaviour = "healthy";
  #failRate = 0.3;
  #delayMs = 2000;
  #leakMb = 8;
  #after = 0;
  #failUntil = 0;
  #polls = 0;
  #rand: () => number = Math.random;
  #leaked: Uint8Array[] = [];
  #now: () => number;

  /** @param now clock (epoch ms), injectable for tests */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Reads the options; the simulator has nothing to connect to. */
  init(options: Readonly<Record<string, unknown>>, _ctx: DriverContext): Promise<void> {
    const num = (k: string, d: number) => (typeof options[k] === "number" ? options[k] as number : d);
    const seed = num("seed", 1);
    const b = options.behaviour ?? "healthy";
    if (!BEHAVIOURS.includes(b as Behaviour)) {
      return Promise.reject(
        new Error(`behaviour: expected one of ${BEHAVIOURS.join(", ")}, got ${String(b)}`),
      );
    }
    this.#behaviour = b as Behaviour;
    this.#failRate = num("fail_rate", 0.3);
    this.#delayMs = num("delay", 2000);
    this.#leakMb = num("leak_mb", 8);
    this.#after = num("misbehave_after", 0);
    this.#failUntil = num("fail_until", 0);
    // Failure draws must differ between worker processes: a failed poll recycles the worker, and a fresh one
    // with the same seeded sequence would fail (or succeed) forever. The telemetry itself stays seeded.
    this.#rand = seededRandom((seed ^ 0x5eed ^ this.#now() ^ (Math.random() * 2 ** 31)) >>> 0);
    this.#model = new CncModel(seed, num("time_scale", 1));
    return Promise.resolve();
  }

  /** Returns one reading, or misbehaves as configured. */
  async poll(): Promise<Metrics> {
    if (!this.#model) throw new Error("simulator: poll before init");
    if (this.#now() < this.#failUntil) {
      throw new Error(`simulated outage until ${new Date(this.#failUntil).toISOString()}`);
    }
    const misbehave = ++this.#polls > this.#after;
    if (misbehave) {
      switch (this.#behaviour) {
        case "flaky":
          if (this.#rand() < this.#failRate) throw new Error("simulated communication error (flaky)");
          break;
        case "slow":
          await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
          break;
        case "hang":
          busyForever();
          break;
        case "crash":
          // Mid-poll: the reading is half made when the process goes.
          this.#model.step(this.#now());
          Deno.exit(134);
          break;
        case "leak": {
          const block = new Uint8Array(Math.round(this.#leakMb * MIB));
          // Touch every page so the memory is resident, not just reserved.
          for (let i = 0; i < block.length; i += 4096) block[i] = 1;
          this.#leaked.push(block);
          break;
        }
        case "garbage":
          Deno.stdout.writeSync(new TextEncoder().encode("%% SIMULATOR GARBAGE \x01\x02 not json {{{\n"));
          break;
      }
    }
    return this.#model.step(this.#now());
  }

  /** Drops retained memory. */
  close(): Promise<void> {
    this.#leaked = [];
    return Promise.resolve();
  }
}

/** Spins without ever yielding to the event loop (what a driver stuck in a tight loop looks like). */
function busyForever(): never {
  let x = 0;
  while (true) x = (x + 1) % 1_000_000_007;
}

/** Entry point of the driver's module, called inside the machine's sandboxed Web Worker. */
export function createDriver(): Driver {
  return new SimulatorDriver();
}
