/** Test records for the uplink and ingest tests: deterministic, valid, with real ids. */
import { type IdentifiedRecord, makeRecord } from "../../src/record/mod.ts";

/** `n` distinct records of machine `machine`, ts = base + i, ~100 bytes of metrics each. */
export function makeRecords(n: number, machine = "mill-01", base = 1_700_000_000_000): IdentifiedRecord[] {
  const out: IdentifiedRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(makeRecord(machine, base + i, {
      spindle_rpm: 1000 + (i % 500),
      feed_mm_min: 250.5,
      program: "O1234",
      state: i % 7 === 0 ? "idle" : "running",
      alarms: [],
    }));
  }
  return out;
}
