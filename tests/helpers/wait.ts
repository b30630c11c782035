/**
 * Waiting in tests: the one `waitFor` (what, how long, condition), so every wait reads the same and a
 * timeout always says what was awaited.
 */

/**
 * Polls `cond` every `everyMs` until it returns a truthy value, and returns that value; throws
 * `timed out after <ms> ms waiting for <what>` when `timeoutMs` pass first. `cond` may be async.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  cond: () => T | Promise<T>,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
