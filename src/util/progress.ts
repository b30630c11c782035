/**
 * What a long transfer (`drain`, `upload`) reports its progress to. The engine and offline code call it; the
 * CLI implements it (src/cli/progress.ts draws the bar), so no layer below the CLI imports the CLI.
 */

/** Receives progress figures. */
export interface ProgressSink {
  /** Reports the current figures; `force` asks for them to be shown now rather than when due. */
  update(sent: number, left: number, force?: boolean): void;
  /** Says the transfer is waiting to retry: why, and until when (epoch ms). Optional for sinks. */
  waiting?(reason: string, until: number): void;
  /** The `sent` figure of the last update. */
  readonly lastSent: number;
}
