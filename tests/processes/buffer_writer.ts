/**
 * Subprocess for tests/buffer_crash_test.ts: enqueues records into `<dir>` without end and prints each id to
 * stdout only after the enqueue promise resolved (its group commit returned). Claims a few records now and
 * then without acking them, so kills also leave in-flight rows behind.
 *
 * Usage: deno run -A --config deno.json tests/processes/buffer_writer.ts DIR ROUND
 */
import { TelemetryBuffer } from "../../src/buffer/mod.ts";
import { makeRecord } from "../../src/record/mod.ts";

const [dir, round] = Deno.args;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };
const b = TelemetryBuffer.open(dir, { maxRecords: 10_000_000, whenFull: "drop_oldest", log: quiet });
const enc = new TextEncoder();
Deno.stderr.writeSync(enc.encode("ready\n"));
let i = 0;
for (;;) {
  const size = 1 + Math.floor(Math.random() * 2500);
  const recs = Array.from(
    { length: size },
    () => makeRecord(`w-${round}`, 1_795_000_000_000 + i, { n: i++, r: round }),
  );
  await Promise.all(recs.map((r) => b.enqueue(r)));
  const text = recs.map((r) => r.id).join("\n") + "\n";
  const bytes = enc.encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
  if (Math.random() < 0.2) b.claim(1 + Math.floor(Math.random() * 500));
}
