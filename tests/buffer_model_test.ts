/**
 * Model-based test (fast-check): random sequences of enqueue / claim / ack / nack / dead-letter / restart
 * against a real buffer.db and a plain in-memory model. After every step the counts match; after restarts
 * and at the end the exact queue (ids, order, attempts) matches: the buffer never loses a record, never
 * invents one, and never hands out one twice.
 */
import fc from "fast-check";
import { type ClaimedRecord, TelemetryBuffer } from "../src/buffer/mod.ts";
import type { IdentifiedRecord } from "../src/record/mod.ts";
import { assertEquals } from "./assert.ts";
import { rec } from "./helpers/buffer_util.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

type Cmd =
  | { t: "enqueue"; keys: number[] }
  | { t: "claim"; n: number }
  | { t: "ack" | "nack" | "dead"; pick: number }
  | { t: "restart" };

interface Row {
  rec: IdentifiedRecord;
  state: "queued" | "in_flight";
  attempts: number;
  seq: number;
}

class Model {
  rows = new Map<string, Row>();
  dead = new Set<string>();
  seq = 0;
  dropped = 0;
  duplicates = 0;
  constructor(readonly max: number, readonly drop: boolean) {}
  /** One enqueue burst: the buffer commits every `chunk` records (and the rest on its timer). */
  enqueue(recs: IdentifiedRecord[], chunk: number): boolean[] {
    const out: boolean[] = [];
    for (let i = 0; i < recs.length; i += chunk) out.push(...this.commit(recs.slice(i, i + chunk)));
    return out;
  }
  commit(recs: IdentifiedRecord[]): boolean[] {
    const out = recs.map((r) => {
      if (this.rows.has(r.id)) {
        this.duplicates++;
        return false;
      }
      this.rows.set(r.id, { rec: r, state: "queued", attempts: 0, seq: this.seq++ });
      return true;
    });
    const queued = this.queued();
    if (this.drop && queued.length > this.max) {
      for (const r of queued.slice(0, queued.length - this.max)) this.rows.delete(r.rec.id);
      this.dropped += queued.length - this.max;
    }
    return out;
  }
  queued(): Row[] {
    return [...this.rows.values()].filter((r) => r.state === "queued").sort((a, b) => a.seq - b.seq);
  }
  inFlight(): Row[] {
    return [...this.rows.values()].filter((r) => r.state === "in_flight").sort((a, b) => a.seq - b.seq);
  }
  claim(n: number): string[] {
    const got = this.queued().slice(0, n);
    for (const r of got) r.state = "in_flight";
    return got.map((r) => r.rec.id);
  }
  restart(): void {
    for (const r of this.rows.values()) r.state = "queued";
  }
}

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("enqueue" as const),
      keys: fc.array(fc.nat(60), { maxLength: 12 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant("claim" as const), n: fc.integer({ min: 1, max: 8 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("ack" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("nack" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("dead" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("restart" as const) }) },
);

/** The ids chosen by `pick` (a bit mask over the in-flight list). */
function choose(inFlight: ClaimedRecord[], pick: number): string[] {
  return inFlight.filter((_, i) => (pick >> (i % 30)) & 1).map((r) => r.id);
}

Deno.test("buffer: model-based enqueue/claim/ack/nack/dead-letter/restart never loses or invents", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(cmdArb, { minLength: 1, maxLength: 50 }),
      fc.boolean(),
      async (cmds, small) => {
        await withTempDir(async (dir) => {
          const opts = {
            maxRecords: small ? 15 : 1_000_000,
            whenFull: "drop_oldest" as const,
            commitMaxRecords: 5,
            commitIntervalMs: 2,
            quickCheck: "blocking" as const, // tiny files; no worker per restart
            log: { debug() {}, info() {}, warn() {}, error() {}, critical() {} },
          };
          const model = new Model(opts.maxRecords, true);
          let b = TelemetryBuffer.open(dir, opts);
          let held: ClaimedRecord[] = []; // what the "uplink" holds
          const checkQueue = () => {
            const all = b.claim(1_000_000);
            assertEquals(
              all.map((r) => [r.id, r.attempts]),
              model.queued().map((r) => [r.rec.id, r.attempts]),
            );
            b.nack([]); // no-op
            model.claim(1_000_000);
            held = held.concat(all);
          };
          try {
            for (const c of cmds) {
              if (c.t === "enqueue") {
                const recs = c.keys.map((k) => rec(k));
                const got = await Promise.all(recs.map((r) => b.enqueue(r)));
                assertEquals(got.map((g) => g.inserted), model.enqueue(recs, opts.commitMaxRecords));
              } else if (c.t === "claim") {
                const got = b.claim(c.n);
                assertEquals(got.map((r) => r.id), model.claim(c.n));
                for (const r of got) {
                  const m = model.rows.get(r.id)!;
                  assertEquals([r.machine_id, r.ts, r.metrics, r.attempts], [
                    m.rec.machine_id,
                    m.rec.ts,
                    m.rec.metrics,
                    m.attempts,
                  ]);
                }
                held = held.concat(got);
              } else if (c.t === "restart") {
                await b.close();
                b = TelemetryBuffer.open(dir, opts);
                model.restart();
                held = [];
                checkQueue();
              } else {
                const ids = choose(held, c.pick);
                held = held.filter((r) => !ids.includes(r.id));
                if (c.t === "ack") {
                  b.ack(ids);
                  for (const id of ids) model.rows.delete(id);
                } else if (c.t === "nack") {
                  b.nack(ids);
                  for (const id of ids) {
                    Object.assign(model.rows.get(id)!, {
                      state: "queued",
                      attempts: model.rows.get(id)!.attempts + 1,
                    });
                  }
                } else {
                  b.deadLetter(ids.map((id) => ({ id, reason: "invalid" })));
                  for (const id of ids) {
                    model.rows.delete(id);
                    model.dead.add(id);
                  }
                }
              }
              const s = b.stats();
              assertEquals(
                [s.queued, s.in_flight, s.dropped_total, s.duplicates_total],
                [model.queued().length, model.inFlight().length, model.dropped, model.duplicates],
              );
              assertEquals(new Set(b.listDeadLetters().map((d) => d.id)), model.dead);
            }
            await b.close();
            b = TelemetryBuffer.open(dir, opts);
            model.restart();
            checkQueue();
          } finally {
            await b.close();
          }
        });
      },
    ),
    { numRuns: 300 },
  );
});
