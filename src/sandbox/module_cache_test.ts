import { assertEquals } from "../../tests/assert.ts";
import { agentDenoDir } from "./module_cache.ts";

Deno.test("agentDenoDir: DENO_DIR wins; else the platform's cache folder; null without a home", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assertEquals(agentDenoDir(env({ DENO_DIR: "/d", HOME: "/h" })), "/d");
  if (Deno.build.os === "linux") {
    assertEquals(agentDenoDir(env({ HOME: "/root" })), "/root/.cache/deno");
    assertEquals(agentDenoDir(env({ HOME: "/root", XDG_CACHE_HOME: "/c" })), "/c/deno");
    assertEquals(agentDenoDir(env({})), null);
  }
});
