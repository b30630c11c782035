/**
 * Every registered driver ships a `sample.toml` beside its module, and `simco-agent check` accepts it: the
 * samples in the docs cannot drift from the option schemas. Runs the real CLI.
 */
import { assert, assertEquals } from "./assert.ts";
import { driverNames } from "../drivers/registry.ts";
import { runCli } from "./helpers/cli.ts";

for (const name of driverNames()) {
  Deno.test(`driver ${name}: sample.toml exists and passes check`, async () => {
    const sample = new URL(`../drivers/${name}/sample.toml`, import.meta.url);
    const text = await Deno.readTextFile(sample);
    assert(text.includes(`driver = "${name}"`), `${sample.pathname} has no machine with driver = "${name}"`);
    const r = await runCli(["check", "--config", sample.pathname]);
    assertEquals(r.code, 0, `check failed on ${sample.pathname}:\n${r.stdout}${r.stderr}`);
  });
}
