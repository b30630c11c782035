/** Starting a helper script of the tests or benchmarks as its own Deno process, with the project's deno.json. */
import { fileURLToPath } from "node:url";
import { DENO_CONFIG } from "../../src/runtime.ts";

/** Arguments for `Deno.execPath()` that run `script` (a path or file URL) with all permissions and `args`. */
export function denoScriptArgs(script: string | URL, ...args: string[]): string[] {
  const path = script instanceof URL || script.startsWith("file:") ? fileURLToPath(script) : script;
  return ["run", "-A", "--no-prompt", "--config", DENO_CONFIG, path, ...args];
}
