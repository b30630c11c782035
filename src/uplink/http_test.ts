import { join } from "node:path";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { uplinkFor } from "../../tests/helpers/uplink_env.ts";
import { ApiKeyError, redact, resolveApiKey } from "./http.ts";

Deno.test("resolveApiKey reads the env var or file; errors name the source, never the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "key");
    Deno.writeTextFileSync(file, "  s3cret-value-1\n");
    assertEquals(resolveApiKey(uplinkFor("http://x", file)), "s3cret-value-1");
    Deno.env.set("SIMCO_TEST_KEY_X", "from-env-123");
    assertEquals(
      resolveApiKey({ ...uplinkFor("http://x", file), apiKeyFile: null, apiKeyEnv: "SIMCO_TEST_KEY_X" }),
      "from-env-123",
    );
    Deno.env.delete("SIMCO_TEST_KEY_X");
    assertThrows(
      () =>
        resolveApiKey({ ...uplinkFor("http://x", file), apiKeyFile: null, apiKeyEnv: "SIMCO_TEST_KEY_X" }),
      ApiKeyError,
      "environment variable SIMCO_TEST_KEY_X (uplink.api_key_env) is not set",
    );
    assertThrows(() => resolveApiKey(uplinkFor("http://x", join(dir, "nope"))), ApiKeyError, "not found");
    Deno.writeTextFileSync(file, "\n");
    assertThrows(() => resolveApiKey(uplinkFor("http://x", file)), ApiKeyError, "api key is empty in file");
    Deno.writeTextFileSync(file, "two words-secret");
    const e = assertThrows(() => resolveApiKey(uplinkFor("http://x", file)), ApiKeyError, "not allowed");
    assertEquals(e.message.includes("words-secret"), false);
    assertThrows(
      () => resolveApiKey({ ...uplinkFor("http://x", file), apiKeyFile: null }),
      ApiKeyError,
      "no api key configured",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("redact hides the key, leaves text alone for trivially short keys", () => {
  assertEquals(redact("bad key abcdef123 sent", "abcdef123"), "bad key *** sent");
  assertEquals(redact("UnknownIssuer", "k"), "UnknownIssuer");
  assertEquals(redact("x", null), "x");
});
