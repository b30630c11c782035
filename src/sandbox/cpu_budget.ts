/**
 * The CPU budget of one worker process: `max_cpu_percent` of one core, averaged over a sliding window
 * (`CPU_WINDOW_MS`, 10 s). The agent samples the process's CPU time (proc_stats.ts) about once a second;
 * once the samples span a whole window, the average over the last window is compared with the budget.
 *
 * Why a window and not the instant: a poll that parses a large reply may use a full core for a moment; a
 * driver that spins threads (eight busy nested Web Workers took 160 % of a 2-core machine) stays over it for
 * the whole window. The window starts with the process's first sample, so the CPU of its own start (~0.1-0.5
 * s of compiling and loading) is averaged over the first 10 s, well under 50 %.
 *
 * Pure: times are passed in.
 */

/** The default window over which CPU use is averaged. */
export const CPU_WINDOW_MS = 10_000;

interface Sample {
  readonly t: number;
  readonly cpuMs: number;
}

/** Sliding-window CPU average of one process. */
export class CpuWindow {
  #samples: Sample[] = [];

  /**
   * @param maxPercent budget in percent of one core (100 = one full core)
   * @param windowMs length of the averaging window
   */
  constructor(readonly maxPercent: number, readonly windowMs: number = CPU_WINDOW_MS) {}

  /**
   * Adds a sample (`t` monotonic ms, `cpuMs` the process's total CPU time). Returns the average over the last
   * window in percent of one core when it is over the budget, else null (also while the samples do not span a
   * window yet).
   */
  add(t: number, cpuMs: number): number | null {
    const s = this.#samples;
    s.push({ t, cpuMs });
    // Keep the newest sample at least one window old as the window's start; drop older ones.
    while (s.length > 2 && t - s[1].t >= this.windowMs) s.shift();
    const first = s[0];
    if (t - first.t < this.windowMs) return null;
    const pct = ((cpuMs - first.cpuMs) / (t - first.t)) * 100;
    return pct > this.maxPercent ? pct : null;
  }
}
