/**
 * Helpers for the focas driver tests: the fake FOCAS2 library's control file and call log
 * (tests/fixtures/c/fake_focas.c), and machine configurations that use it.
 */
import { join } from "node:path";
import type { MachineConfig } from "../../src/config/types.ts";
import { fixtureLibrary } from "../build_fixtures.ts";
import { machine } from "./sandbox_machines.ts";

/** The fake library (all symbols). */
export const FAKE_FOCAS: string = fixtureLibrary("fake_focas");
/** The fake without its optional symbols. */
export const FAKE_FOCAS_MINIMAL: string = fixtureLibrary("fake_focas_minimal");
/** The fake without the required cnc_rdalmmsg2. */
export const FAKE_FOCAS_INCOMPLETE: string = fixtureLibrary("fake_focas_incomplete");

/** Hex of bytes, for `alarm_msg` lines. */
export const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** Writes the control file into `dir` atomically (the fake re-reads it when it changes). */
export async function writeControl(
  dir: string,
  values: Record<string, string | number>,
  alarms: string[] = [],
) {
  await Deno.mkdir(dir, { recursive: true });
  const lines = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  for (const a of alarms) lines.push(`alarm_msg=${a}`);
  const tmp = join(dir, `fake_focas.control.${crypto.randomUUID()}`);
  await Deno.writeTextFile(tmp, lines.join("\n") + "\n");
  await Deno.rename(tmp, join(dir, "fake_focas.control"));
}

/** One line of the fake's call log. */
export interface FakeCall {
  readonly ms: number;
  readonly tid: number;
  readonly fn: string;
  readonly handle: number;
  readonly rc: number;
  /** Handles open after the call. */
  readonly open: number;
  readonly extra: string;
}

/** The fake's call log in `dir` (empty when it has none yet). */
export function readCalls(dir: string): FakeCall[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(join(dir, "fake_focas.calls"));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return text.split("\n").filter((l) => l).map((l) => {
    const m = l.match(/^(\d+) tid=(\d+) (\S+) h=(-?\d+) rc=(-?\d+) open=(-?\d+)(.*)$/);
    if (!m) throw new Error(`fake_focas.calls: unexpected line ${JSON.stringify(l)}`);
    return { ms: +m[1], tid: +m[2], fn: m[3], handle: +m[4], rc: +m[5], open: +m[6], extra: m[7].trim() };
  });
}

/** A focas machine on the fake library at 127.0.0.1 (nothing listens: the fake never opens a socket). */
export function focasMachine(
  id: string,
  over: Partial<MachineConfig> = {},
  library = FAKE_FOCAS,
): MachineConfig {
  return machine(id, {
    driver: "focas",
    host: "127.0.0.1",
    port: 8193,
    timeoutMs: 3000,
    options: { library, encoding: "latin1", startup_log_level: 0 },
    ...over,
  });
}
