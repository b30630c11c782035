import { assertEquals } from "../../../tests/assert.ts";
import { type Stat, unreadableBy, userFromPasswd } from "./users.ts";

const PASSWD =
  "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

Deno.test("worker user: looked up by name or uid", () => {
  assertEquals(userFromPasswd("nobody", PASSWD), { uid: 65534, gid: 65534 });
  assertEquals(userFromPasswd("65534", PASSWD), { uid: 65534, gid: 65534 });
  assertEquals(userFromPasswd("1234", PASSWD), { uid: 1234, gid: 1234 });
  assertEquals(userFromPasswd("simco", PASSWD), null);
});

Deno.test("worker user: the first folder it cannot pass is named with its mode", () => {
  const fs: Record<string, Stat> = {
    "/": { mode: 0o755, uid: 0, gid: 0, isDirectory: true },
    "/root": { mode: 0o700, uid: 0, gid: 0, isDirectory: true },
    "/root/.cache": { mode: 0o755, uid: 0, gid: 0, isDirectory: true },
    "/opt": { mode: 0o755, uid: 0, gid: 0, isDirectory: true },
    "/opt/deno": { mode: 0o750, uid: 0, gid: 1000, isDirectory: false },
  };
  const stat = (p: string) => fs[p] ?? null;
  assertEquals(
    unreadableBy(["/root/.cache"], 65534, 65534, stat),
    "/root is mode 0700 owned by uid 0, so uid 65534 cannot reach /root/.cache",
  );
  assertEquals(unreadableBy(["/opt/deno"], 65534, 1000, stat), null); // group read
  assertEquals(
    unreadableBy(["/opt/deno"], 65534, 65534, stat),
    "/opt/deno is mode 0750 owned by uid 0, so uid 65534 cannot read /opt/deno",
  );
});
