/**
 * Progress display for `drain` and `upload` (pure formatting plus a rate estimate over a sliding window):
 * a bar on a terminal (`[#####.....] 45,000 sent  55,000 left  48,210 rec/s  ETA 1s`), a plain line
 * every few seconds otherwise.
 */
import type { ProgressSink } from "../util/progress.ts";

/** One progress sample. */
export interface ProgressSample {
  /** Records sent so far. */
  readonly sent: number;
  /** Records still to send. */
  readonly left: number;
  /** Epoch ms. */
  readonly at: number;
}

/** Estimates records per second from the samples of the last `windowMs`. */
export class RateMeter {
  readonly #samples: ProgressSample[] = [];
  /** @param windowMs how far back the rate looks */
  constructor(readonly windowMs = 5_000) {}

  /** Adds a sample; returns the current rate (records/s, 0 until two samples exist). */
  add(s: ProgressSample): number {
    this.#samples.push(s);
    while (this.#samples.length > 2 && s.at - this.#samples[0].at > this.windowMs) this.#samples.shift();
    const first = this.#samples[0];
    const dt = (s.at - first.at) / 1000;
    return dt > 0 ? Math.max(0, (s.sent - first.sent) / dt) : 0;
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Formats seconds as `45s`, `3m05s`, `2h10m`, or `?` when unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The figures after the bar: sent, left, rate and ETA. */
export function progressText(sent: number, left: number, rate: number): string {
  const eta = left === 0 ? "0s" : rate > 0 ? formatEta(left / rate) : "?";
  return `${fmt(sent)} sent  ${fmt(left)} left  ${fmt(rate)} rec/s  ETA ${eta}`;
}

/** A terminal progress bar line of `width` cells. */
export function progressBar(sent: number, left: number, rate: number, width = 30): string {
  const total = sent + left;
  const done = total === 0 ? width : Math.min(width, Math.round((sent / total) * width));
  return `[${"#".repeat(done)}${".".repeat(width - done)}] ${progressText(sent, left, rate)}`;
}

/**
 * Writes progress to stderr: on a terminal a bar redrawn in place at most every 200 ms; otherwise a plain
 * line every `plainEveryMs`. `done()` ends the bar's line.
 */
export class ProgressReporter implements ProgressSink {
  readonly #meter = new RateMeter();
  readonly #tty: boolean;
  #lastDraw = 0;
  #drawn = false;
  #lastSent = 0;

  /**
   * @param label prefix of plain lines, e.g. `drain`
   * @param tty draw a bar (default: whether stderr is a terminal)
   */
  constructor(
    readonly label: string,
    tty = Deno.stderr.isTerminal(),
    readonly plainEveryMs = 5_000,
    readonly clock: () => number = Date.now,
  ) {
    this.#tty = tty;
  }

  /** Reports the current figures (drawn only when due). */
  update(sent: number, left: number, force = false): void {
    this.#lastSent = sent;
    const at = this.clock();
    const rate = this.#meter.add({ sent, left, at });
    const every = this.#tty ? 200 : this.plainEveryMs;
    if (!force && at - this.#lastDraw < every) return;
    this.#lastDraw = at;
    const enc = new TextEncoder();
    if (this.#tty) {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${this.label}: ${progressBar(sent, left, rate)}`));
      this.#drawn = true;
    } else {
      Deno.stderr.writeSync(enc.encode(`${this.label}: ${progressText(sent, left, rate)}\n`));
    }
  }

  /** The `sent` figure of the last update. */
  get lastSent(): number {
    return this.#lastSent;
  }

  /** Finishes the bar line (terminal only). */
  done(): void {
    if (this.#tty && this.#drawn) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}
