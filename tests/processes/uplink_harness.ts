/**
 * A stand-in agent process for the uplink tests (the real `run` is tested end to end elsewhere): opens the
 * buffer of a data dir the way `run` does (data-dir lock, TelemetryBuffer.open) and either seeds it or runs
 * Uploader.runLoop against an ingest.
 *
 *   seed   DATA_DIR N [MACHINE] [BASE_TS]  enqueue N test records, flush, exit
 *   upload DATA_DIR OPTIONS_JSON           runLoop until the buffer is empty (prints "uploading", then "empty")
 *   run    DATA_DIR OPTIONS_JSON           runLoop until stdin closes or SIGINT (like `run`, serves drain requests)
 *
 * OPTIONS_JSON: `{"agentId": "...", "uplink": <UplinkSection>}`.
 */
import { acquireDataDirLock, TelemetryBuffer } from "../../src/buffer/mod.ts";
import type { UplinkSection } from "../../src/config/types.ts";
import { StatusWriter } from "../../src/datadir/status_file.ts";
import { setupLogging } from "../../src/log/mod.ts";
import { Uploader } from "../../src/uplink/mod.ts";
import { makeRecords } from "../helpers/uplink_records.ts";

const [mode, dataDir, arg, machine, base] = Deno.args;
await setupLogging({ level: "info" });
const lock = acquireDataDirLock(dataDir);
const buffer = TelemetryBuffer.open(dataDir, { maxRecords: 10_000_000, whenFull: "drop_oldest" });
if (mode === "seed") {
  for (const r of makeRecords(Number(arg), machine ?? "mill-01", base ? Number(base) : undefined)) {
    buffer.enqueue(r);
  }
  await buffer.flush();
} else {
  const opts = JSON.parse(arg) as { agentId: string; uplink: UplinkSection };
  // The lock holder writes status.json, as `run` does (drain requests are answered there).
  const status = new StatusWriter(dataDir, "run");
  const publish = () => {
    const { requests: _, ...u } = uploader.status();
    void status.write({ uplink: u, machines: [] });
  };
  const uploader: Uploader = new Uploader(buffer, {
    agentId: opts.agentId,
    uplink: opts.uplink,
    dataDir,
    onStatusChange: publish,
  });
  const ticker = setInterval(publish, 1000);
  const ac = new AbortController();
  Deno.addSignalListener("SIGINT", () => ac.abort());
  if (mode === "upload") {
    console.log("uploading");
    const watch = setInterval(() => {
      const s = buffer.stats();
      if (s.queued + s.in_flight === 0) ac.abort();
    }, 20);
    await uploader.runLoop(ac.signal);
    clearInterval(watch);
    console.log("empty");
  } else {
    console.log("running");
    (async () => {
      for await (const _ of Deno.stdin.readable) { /* until closed */ }
      ac.abort();
    })();
    await uploader.runLoop(ac.signal);
  }
  clearInterval(ticker);
  publish();
  await status.flushed();
}
await buffer.close();
lock.release();
