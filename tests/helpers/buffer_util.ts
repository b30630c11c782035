/** Records for the buffer tests (about 300 bytes of metrics each, like a real reading). */
import { type IdentifiedRecord, makeRecord } from "../../src/record/mod.ts";

/** A record of machine `m` at time `ts` with ~300 bytes of metrics. */
export function rec(
  ts: number,
  m = "mill-01",
  extra: Record<string, number | string> = {},
): IdentifiedRecord {
  return makeRecord(m, ts, {
    spindle_rpm: 12000 + (ts % 1000),
    feed_rate: 350.25,
    program: "O1234-PART-A",
    mode: "auto",
    alarm: null,
    axis: { x: 10.123, y: -5.5, z: ts % 7 },
    temps: [45.1, 46.2, 47.3],
    part_count: ts,
    door_open: false,
    notes: "running job 42 on cell 3",
    ...extra,
  });
}
