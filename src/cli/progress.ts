/**
 * Progress display for `drain` and `upload` (pure formatting plus a rate estimate over a sliding window):
 * a bar on a terminal (`[#####.....] 45,000 sent  55,000 left  48,210 rec/s  ETA 1s`), a plain line
 * every few seconds otherwise. While waiting to retry, the line says why and when (`waiting: HTTP 503,
 * retry in 8s`). Log lines clear the bar first (log/mod.ts setStatusLine), so they never glue onto it.
 */
import type { ProgressSink } from "../util/progress.ts";
import { setStatusLine } from "../log/mod.ts";

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
  #lastLeft = 0;
  #lastRate = 0;
  #waiting: { reason: string; until: number } | null = null;
  readonly #enc = new TextEncoder();

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

  /** Reports the current figures (drawn only when due). Progress ends a {@link waiting} note. */
  update(sent: number, left: number, force = false): void {
    if (sent > this.#lastSent) this.#waiting = null;
    this.#lastSent = sent;
    this.#lastLeft = left;
    const at = this.clock();
    this.#lastRate = this.#meter.add({ sent, left, at });
    const every = this.#tty ? 200 : this.plainEveryMs;
    if (!force && at - this.#lastDraw < every) return;
    this.#lastDraw = at;
    if (this.#tty) {
      this.#redraw();
      if (!this.#drawn) {
        setStatusLine({
          clear: () => this.#write("\r\x1b[2K"),
          redraw: () => this.#redraw(),
        });
      }
      this.#drawn = true;
    } else {
      this.#write(`${this.label}: ${progressText(sent, left, this.#lastRate)}${this.#note()}\n`);
    }
  }

  /** Says why nothing moves: the last error and the epoch ms of the next attempt (drawn at once). */
  waiting(reason: string, until: number): void {
    this.#waiting = { reason, until };
    this.update(this.#lastSent, this.#lastLeft, true);
  }

  #note(): string {
    const w = this.#waiting;
    if (!w) return "";
    return `  waiting: ${w.reason}, retry in ${formatEta(Math.max(0, (w.until - this.clock()) / 1000))}`;
  }

  #redraw(): void {
    const bar = progressBar(this.#lastSent, this.#lastLeft, this.#lastRate);
    this.#write(`\r\x1b[2K${this.label}: ${bar}${this.#note()}`);
  }

  #write(text: string): void {
    Deno.stderr.writeSync(this.#enc.encode(text));
  }

  /** The `sent` figure of the last update. */
  get lastSent(): number {
    return this.#lastSent;
  }

  /** Finishes the bar line (terminal only); later log lines go below it. */
  done(): void {
    if (this.#tty && this.#drawn) {
      setStatusLine(null);
      this.#drawn = false;
      this.#write("\n");
    }
  }
}
