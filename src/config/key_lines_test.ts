import { assertEquals } from "../../tests/assert.ts";
import { lineOf, locateKeys } from "./key_lines.ts";

Deno.test("locateKeys maps tables, arrays of tables, sub-tables and dotted keys to lines", () => {
  const text = [
    "[agent]", // 1
    'id = "a"', // 2
    "[[machines]]", // 3
    'id = "m0"', // 4
    "[[machines]]", // 5
    'id = "m1"', // 6
    'note = """', // 7
    "port = 1", // 8 (inside a multi-line string: not a key)
    '"""', // 9
    "[machines.options]", // 10
    "seed = 3", // 11
    "options.extra = 1", // 12 (dotted key under machines[1].options)
  ].join("\n");
  const lines = locateKeys(text);
  assertEquals(lines.get("agent.id"), 2);
  assertEquals(lines.get("machines[0].id"), 4);
  assertEquals(lines.get("machines[1]"), 5);
  assertEquals(lines.get("machines[1].port"), undefined);
  assertEquals(lines.get("machines[1].options.seed"), 11);
  assertEquals(lines.get("machines[1].options.options.extra"), 12);
  assertEquals(lineOf(lines, "machines[1].driver"), 5);
  assertEquals(lineOf(lines, "buffer.max_records"), undefined);
});
