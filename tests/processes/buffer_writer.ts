/**
 * Subprocess for tests/buffer_crash_test.ts: enqueues records into `<dir>` without end and prints each id to
 * stdout only after the enqueue promise resolved (its group commit returned). Claims a few records now and
 * then without acking them, so kills also leave in-flight rows behind.
 *
 * With a third argument `cursor` it plays a driver that resumes from a cursor instead: it reads machine
 * `cursor-m`'s stored cursor (the last `n` delivered, or none), then enqueues batches of records `{n}` with
 * n = cursor + 1, + 2, ... each batch with its last n as the cursor (TelemetryBuffer.enqueueBatch), forever.
 *
 * Usage: deno run -A --config deno.json tests/processes/buffer_writer.ts DIR ROUND [cursor]
 */
import { TelemetryBuffer } from "../../src/buffer/mod.ts";
import { makeRecord } from "../../src/record/mod.ts";

const [dir, round, mode] = Deno.args;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };
const b = TelemetryBuffer.open(dir, { maxRecords: 10_000_000, whenFull: "drop_oldest", log: quiet });
const enc = new TextEncoder();
Deno.stderr.writeSync(enc.encode("ready\n"));
if (mode === "cursor") {
  const stored = b.cursor("cursor-m");
  let n = typeof stored === "number" ? stored + 1 : 0;
  for (;;) {
    const size = 1 + Math.floor(Math.random() * 300);
    const recs = Array.from(
      { length: size },
      () => makeRecord("cursor-m", 1_795_000_000_000 + n, { n: n++ }),
    );
    void b.enqueueBatch(recs, { machineId: "cursor-m", value: n - 1 });
    // Let the group commit run now and then, as an agent polling on does.
    if (Math.random() < 0.3) await new Promise((r) => setTimeout(r, Math.random() * 50));
  }
}
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
