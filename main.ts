/**
 * simco-agent entry point: hands the arguments to the CLI in src/ and exits with its code.
 * @module
 */
import { main } from "./src/cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
