import { assertEquals } from "../../tests/assert.ts";
import {
  DRAIN_REQUEST_STALE_MS,
  readDrainRequest,
  removeDrainRequest,
  writeDrainRequest,
} from "./drain_request.ts";

Deno.test("drain requests: a stale heartbeat is ignored, only the owner removes its request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = 1_000_000;
    assertEquals(readDrainRequest(dir, now), null);
    writeDrainRequest(dir, { id: "a", pid: 1, heartbeat_ts: now });
    assertEquals(readDrainRequest(dir, now + 1000)?.id, "a");
    assertEquals(readDrainRequest(dir, now + DRAIN_REQUEST_STALE_MS + 1), null, "stale request ignored");
    removeDrainRequest(dir, "someone-else");
    assertEquals(readDrainRequest(dir, now)?.id, "a");
    removeDrainRequest(dir, "a");
    assertEquals(readDrainRequest(dir, now), null);
    Deno.writeTextFileSync(`${dir}/drain-request.json`, "{garbage");
    assertEquals(readDrainRequest(dir, now), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
