import { assertEquals } from "../../../tests/assert.ts";
import {
  FS,
  handledFs,
  landlockGaps,
  netPortAttr,
  pathBeneathAttr,
  READ_RIGHTS,
  rulesetAttr,
} from "./landlock.ts";

Deno.test("landlock: ruleset attribute size and handled rights follow the ABI", () => {
  assertEquals(rulesetAttr(1).length, 8);
  assertEquals(rulesetAttr(4).length, 16);
  assertEquals(rulesetAttr(6).length, 24);
  const v = new DataView(rulesetAttr(6).buffer);
  assertEquals(Number(v.getBigUint64(0, true)), 0xffff); // every fs right up to IOCTL_DEV
  assertEquals(Number(v.getBigUint64(8, true)), 3); // bind and connect
  assertEquals(Number(v.getBigUint64(16, true)), 3); // abstract unix sockets and signals
  assertEquals(handledFs(1), 0x1fff);
  assertEquals(handledFs(2) & FS.REFER, FS.REFER);
  assertEquals(handledFs(4) & FS.IOCTL_DEV, 0);
});

Deno.test("landlock: rule structs are packed as the kernel expects", () => {
  const p = pathBeneathAttr(READ_RIGHTS, 7);
  assertEquals(p.length, 12);
  assertEquals([...p], [0x0d, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0]);
  const n = netPortAttr(2, 7878);
  assertEquals(n.length, 16);
  assertEquals(Number(new DataView(n.buffer).getBigUint64(8, true)), 7878);
});

Deno.test("landlock: what each ABI cannot enforce is named", () => {
  assertEquals(landlockGaps(7), []);
  assertEquals(landlockGaps(6), []);
  assertEquals(landlockGaps(4), ["device ioctl", "signal scoping", "abstract unix socket scoping"]);
  assertEquals(landlockGaps(0)[0], "filesystem");
});
