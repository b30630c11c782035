/**
 * Output budgets of worker processes, in bytes (not lines):
 *
 * - {@link ByteRate}: a token bucket (`bytesPerSecond`, up to `burstBytes` saved up). The agent meters every
 *   chunk it reads from a worker's stdout and stderr; the first chunk over the budget kills the worker at once
 *   (cause `output`) and the agent stops reading, whether a request is outstanding or not. So a worker writing
 *   4 GB of garbage costs the agent at most the burst plus one read buffer.
 * - {@link LogBudget}: how many stderr bytes of one machine reach the log per window; the rest is counted and
 *   reported in one line. One per machine (held by its MachineWorker), so a recycled worker does not start
 *   with a fresh allowance.
 * - {@link metered}: applies a ByteRate to a stream of chunks.
 *
 * Pure; the clock is injected.
 */

/** Token bucket over bytes. */
export class ByteRate {
  #tokens: number;
  #last: number;

  constructor(
    readonly bytesPerSecond: number,
    readonly burstBytes: number,
    readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = burstBytes;
    this.#last = now();
  }

  /** Takes `n` bytes; false when that exceeds the budget (the bucket is then empty). */
  take(n: number): boolean {
    const t = this.now();
    this.#tokens = Math.min(this.burstBytes, this.#tokens + ((t - this.#last) * this.bytesPerSecond) / 1000);
    this.#last = t;
    this.#tokens -= n;
    if (this.#tokens >= 0) return true;
    this.#tokens = 0;
    return false;
  }
}

/**
 * Passes `chunks` through while `rate` allows them; on the first chunk over the budget calls `over(total)`
 * (total bytes read, that chunk included) and stops, which cancels the underlying read.
 */
export async function* metered(
  chunks: AsyncIterable<Uint8Array>,
  rate: ByteRate,
  over: (totalBytes: number) => void,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const c of chunks) {
    total += c.length;
    if (!rate.take(c.length)) {
      over(total);
      return;
    }
    yield c;
  }
}

/** Bytes of one machine's stderr that reach the log per window. */
export class LogBudget {
  #windowStart = -Infinity;
  #bytes = 0;
  #droppedBytes = 0;
  #droppedLines = 0;

  constructor(
    readonly maxBytes: number,
    readonly windowMs: number,
    readonly now: () => number = Date.now,
  ) {}

  /**
   * Decides for one line of `bytes`. `pass`: log it; `dropped`: what was held back in the window that just
   * closed (report it first), or null.
   */
  offer(bytes: number): { pass: boolean; dropped: Dropped | null } {
    const t = this.now();
    let dropped: Dropped | null = null;
    if (t - this.#windowStart >= this.windowMs) {
      dropped = this.flush();
      this.#windowStart = t;
      this.#bytes = 0;
    }
    if (this.#bytes + bytes <= this.maxBytes) {
      this.#bytes += bytes;
      return { pass: true, dropped };
    }
    this.#droppedBytes += bytes;
    this.#droppedLines++;
    return { pass: false, dropped };
  }

  /** What was held back and not reported yet, or null (resets the count; the window goes on). */
  flush(): Dropped | null {
    if (this.#droppedLines === 0) return null;
    const d = { bytes: this.#droppedBytes, lines: this.#droppedLines };
    this.#droppedBytes = 0;
    this.#droppedLines = 0;
    return d;
  }
}

/** Stderr held back from the log. */
export interface Dropped {
  readonly bytes: number;
  readonly lines: number;
}
