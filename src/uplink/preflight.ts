/**
 * What `run` needs from `[uplink]` beyond a valid file, checked without connecting anywhere: an api key
 * source that yields a key, a key file only its owner can read, a usable `ca_file`. One function for both
 * `run` (refuses to start on an error, logs warnings) and `check` (prints everything), so `check` cannot
 * say "configuration OK" for a file `run` then rejects.
 *
 * An environment variable that is unset is an error for `run` but only a warning for `check`: `check` is
 * often run from another shell than the service, whose environment it cannot see.
 */
import type { UplinkSection } from "../config/types.ts";
import { readCaFile, resolveApiKey } from "./http.ts";

/** One finding about `[uplink]`. */
export interface UplinkFinding {
  /** Key path, e.g. `uplink.ca_file`. */
  readonly key: string;
  /** What was expected and what was found (never the key itself). */
  readonly message: string;
  /** `error`: run refuses to start. `warning`: run starts and logs it. */
  readonly level: "error" | "warning";
  /** True when the finding depends on the environment of the process (an unset variable). */
  readonly fromEnvironment?: boolean;
}

/** Checks the api key source and the CA file of `uplink` (nothing when no url is configured). */
export function uplinkFindings(uplink: UplinkSection): UplinkFinding[] {
  if (!uplink.url) return [];
  const out: UplinkFinding[] = [];
  const keyPath = uplink.apiKeyFile ? "uplink.api_key_file" : "uplink.api_key_env";
  try {
    resolveApiKey(uplink);
  } catch (e) {
    out.push({
      key: keyPath,
      message: e instanceof Error ? e.message : String(e),
      level: "error",
      fromEnvironment: uplink.apiKeyEnv !== null && Deno.env.get(uplink.apiKeyEnv) === undefined,
    });
  }
  if (uplink.apiKeyFile && Deno.build.os !== "windows") {
    try {
      const mode = Deno.statSync(uplink.apiKeyFile).mode;
      if (mode !== null && (mode & 0o004) !== 0) {
        out.push({
          key: "uplink.api_key_file",
          message: `${uplink.apiKeyFile} is readable by every user (mode ${
            (mode & 0o777).toString(8).padStart(4, "0")
          }); expected only its owner to read it (chmod 600)`,
          level: "warning",
        });
      }
    } catch { /* unreadable: reported above */ }
  }
  if (uplink.caFile) {
    try {
      Deno.createHttpClient({ caCerts: [readCaFile(uplink.caFile)] }).close();
    } catch (e) {
      out.push({ key: "uplink.ca_file", message: caMessage(uplink.caFile, e), level: "error" });
    }
  }
  return out;
}

function caMessage(file: string, e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  if (text.startsWith("uplink.ca_file")) return text.replace(/^uplink\.ca_file /, "");
  return `${file}: expected a PEM certificate the TLS library accepts, got one it refuses (${text})`;
}
