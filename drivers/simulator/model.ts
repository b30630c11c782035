/**
 * The simulated machine: a seeded state machine producing CNC telemetry in the shared vocabulary
 * (drivers/README.md). Pure: time and randomness come in, so the same seed and the same step times give the
 * same readings.
 *
 * Life of the simulated machine (times are simulated seconds, scaled by `timeScale`):
 * - READY between parts (5-20 s), spindle stopped;
 * - ACTIVE while cutting one part of the current program (cycle 30-120 s per program), spindle speed and
 *   load, path feedrate; part_count + 1 at the end of each cycle (PROGRAM_COMPLETED for one reading);
 * - FEED_HOLD now and then during a cycle (3-15 s: the operator holds the feed, the spindle keeps turning);
 * - STOPPED: an alarm (about one cycle in 15; FAULT alarms stop the machine for 20-60 s, WARNING alarms
 *   show while it keeps cutting), an emergency stop (about one cycle in 60; 30-90 s, e-stop TRIGGERED), or
 *   a planned stop with the controller in MANUAL or EDIT (about one cycle in 20; 30-120 s);
 * - after 5-20 parts the program changes.
 */
import type { Metrics } from "../../src/record/mod.ts";
import { seededRandom } from "./random.ts";

export { seededRandom };

/** Programs the simulator runs: name, spindle speed (rev/min), cycle time (s), feedrate (mm/s). */
export const PROGRAMS: readonly { name: string; rpm: number; cycleS: number; feed: number }[] = [
  { name: "O1001 BRACKET-A", rpm: 8000, cycleS: 42, feed: 25 },
  { name: "O1002 BRACKET-B", rpm: 7500, cycleS: 55, feed: 22 },
  { name: "O2040 FLANGE-80", rpm: 3200, cycleS: 95, feed: 12 },
  { name: "O3300 SHAFT-12", rpm: 4500, cycleS: 70, feed: 8 },
  { name: "O4711 HOUSING-C", rpm: 11000, cycleS: 120, feed: 35 },
  { name: "O5120 PLATE-6H", rpm: 9500, cycleS: 30, feed: 40 },
];

/** Alarms the simulator raises. */
export const ALARMS: readonly { code: string; severity: "FAULT" | "WARNING"; message: string }[] = [
  { code: "SV0401", severity: "FAULT", message: "SERVO V READY OFF (X AXIS)" },
  { code: "SP1241", severity: "FAULT", message: "SPINDLE OVERLOAD" },
  { code: "OT0500", severity: "FAULT", message: "OVER TRAVEL +Z" },
  { code: "PS0010", severity: "FAULT", message: "IMPROPER G-CODE" },
  { code: "OH0700", severity: "WARNING", message: "CABINET OVERHEAT" },
  { code: "TL0012", severity: "WARNING", message: "TOOL LIFE EXPIRED T12" },
  { code: "LB0001", severity: "WARNING", message: "LUBRICATION LEVEL LOW" },
];

type Phase = "READY" | "ACTIVE" | "FEED_HOLD" | "COMPLETED" | "ALARM" | "ESTOP" | "STOPPED";

/** The simulated machine. Call {@link CncModel.step} with increasing times; each call is one reading. */
export class CncModel {
  readonly #rand: () => number;
  readonly #timeScale: number;
  #last: number | null = null;
  #phase: Phase = "READY";
  #left = 0; // simulated seconds left in the phase
  #cycleLeft = 0; // cutting seconds left in the current part
  #program: number;
  #partsLeftInProgram: number;
  #partCount: number;
  #mode: "AUTOMATIC" | "MANUAL" | "EDIT" = "AUTOMATIC";
  #alarm: (typeof ALARMS)[number] | null = null;
  #warning: (typeof ALARMS)[number] | null = null;
  #feedOverride = 100;
  #spindleOverride = 100;
  #load = 30;

  /** @param timeScale simulated seconds per real second (1 = real time) */
  constructor(seed: number, timeScale = 1) {
    this.#rand = seededRandom(seed);
    this.#timeScale = timeScale;
    this.#program = Math.floor(this.#rand() * PROGRAMS.length);
    this.#partsLeftInProgram = this.#between(5, 20);
    this.#partCount = Math.floor(this.#rand() * 500);
    this.#left = this.#between(1, 10);
  }

  #between(lo: number, hi: number): number {
    return lo + this.#rand() * (hi - lo);
  }

  #chance(p: number): boolean {
    return this.#rand() < p;
  }

  /** Advances to real time `nowMs` and returns the reading at that moment. */
  step(nowMs: number): Metrics {
    const dt = this.#last === null ? 0 : Math.min(Math.max(nowMs - this.#last, 0), 600_000) / 1000;
    this.#last = nowMs;
    this.#advance(dt * this.#timeScale);
    return this.#reading();
  }

  #advance(seconds: number): void {
    let s = seconds;
    // Walk through as many phase changes as the elapsed time covers (bounded, for huge gaps).
    for (let guard = 0; guard < 1000; guard++) {
      if (this.#phase === "ACTIVE") {
        const used = Math.min(s, this.#cycleLeft, this.#left);
        this.#cycleLeft -= used;
        this.#left -= used;
        s -= used;
        if (this.#cycleLeft <= 0) {
          // The part is done: this reading shows PROGRAM_COMPLETED (the rest of the step is dropped).
          this.#finishPart();
          return;
        }
        if (this.#left <= 0) this.#interrupt();
        else return;
        continue;
      }
      if (this.#phase === "COMPLETED") {
        this.#enter("READY", this.#between(5, 20));
        continue;
      }
      const used = Math.min(s, this.#left);
      this.#left -= used;
      s -= used;
      if (this.#left > 0) return;
      this.#resume();
      if (s <= 0) return;
    }
  }

  #enter(phase: Phase, seconds: number): void {
    this.#phase = phase;
    this.#left = seconds;
  }

  /** READY, FEED_HOLD or a stop is over: start or continue cutting. */
  #resume(): void {
    this.#alarm = null;
    this.#mode = "AUTOMATIC";
    if (this.#cycleLeft <= 0) {
      const p = PROGRAMS[this.#program];
      this.#cycleLeft = p.cycleS * this.#between(0.95, 1.1);
      this.#feedOverride = this.#chance(0.8) ? 100 : [80, 90, 110, 120][Math.floor(this.#rand() * 4)];
      this.#spindleOverride = this.#chance(0.9) ? 100 : [90, 110][Math.floor(this.#rand() * 2)];
      if (this.#warning && this.#chance(0.5)) this.#warning = null;
    }
    // Time until the next interruption while cutting (a feed hold, alarm, e-stop or planned stop).
    this.#enter("ACTIVE", this.#between(20, 400));
  }

  #interrupt(): void {
    const r = this.#rand();
    if (r < 0.02) {
      this.#alarm = { code: "EMG", severity: "FAULT", message: "EMERGENCY STOP" };
      this.#enter("ESTOP", this.#between(30, 90));
    } else if (r < 0.2) {
      const a = ALARMS[Math.floor(this.#rand() * ALARMS.length)];
      if (a.severity === "WARNING") {
        this.#warning = a;
        this.#enter("ACTIVE", this.#between(20, 400));
      } else {
        this.#alarm = a;
        this.#enter("ALARM", this.#between(20, 60));
      }
    } else if (r < 0.35) {
      this.#mode = this.#chance(0.7) ? "MANUAL" : "EDIT";
      this.#enter("STOPPED", this.#between(30, 120));
    } else {
      this.#enter("FEED_HOLD", this.#between(3, 15));
    }
  }

  #finishPart(): void {
    this.#partCount++;
    this.#cycleLeft = 0;
    if (--this.#partsLeftInProgram <= 0) {
      this.#program = (this.#program + 1 + Math.floor(this.#rand() * (PROGRAMS.length - 1))) %
        PROGRAMS.length;
      this.#partsLeftInProgram = this.#between(5, 20);
    }
    this.#enter("COMPLETED", 0);
  }

  #reading(): Metrics {
    const p = PROGRAMS[this.#program];
    const cutting = this.#phase === "ACTIVE";
    const turning = cutting || this.#phase === "FEED_HOLD";
    const noise = (amp: number) => (this.#rand() * 2 - 1) * amp;
    const rpm = turning ? Math.round(p.rpm * (this.#spindleOverride / 100) * (1 + noise(0.01))) : 0;
    if (cutting) this.#load = Math.min(Math.max(this.#load + noise(8) + (55 - this.#load) * 0.1, 15), 95);
    const load = cutting ? round1(this.#load) : turning ? round1(3 + this.#rand() * 2) : 0;
    const feed = cutting ? round1(p.feed * (this.#feedOverride / 100) * (1 + noise(0.05))) : 0;
    const execution = {
      READY: "READY",
      ACTIVE: "ACTIVE",
      FEED_HOLD: "FEED_HOLD",
      COMPLETED: "PROGRAM_COMPLETED",
      ALARM: "STOPPED",
      ESTOP: "STOPPED",
      STOPPED: "STOPPED",
    }[this.#phase];
    const alarms = [this.#alarm, this.#warning].filter((a) => a !== null).map((a) => ({ ...a }));
    return {
      availability: "AVAILABLE",
      execution,
      controller_mode: this.#mode,
      emergency_stop: this.#phase === "ESTOP" ? "TRIGGERED" : "ARMED",
      program: p.name,
      part_count: this.#partCount,
      spindle_speed: rpm,
      spindle_load: load,
      spindle_override: this.#spindleOverride,
      feed_override: this.#feedOverride,
      path_feedrate: feed,
      alarms,
    };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
