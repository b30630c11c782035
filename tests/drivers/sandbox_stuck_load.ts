/**
 * Test-only driver module that never finishes loading: its top level busy-loops. Used to check that a worker
 * whose driver hangs while loading still exits when the agent goes away (tests/sandbox_kill_test.ts).
 */
import type { Driver } from "../../drivers/types.ts";

let x = 0;
while (x >= 0) x = (x + 1) % 1_000_000_007;

/** Never reached. */
export function createDriver(): Driver {
  throw new Error("unreachable");
}
