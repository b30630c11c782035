import { assertEquals } from "../../tests/assert.ts";
import { netDescriptor, sandboxPermissions, workerPermissions } from "./permissions.ts";

Deno.test("sandboxPermissions: network drivers get exactly host:port, library drivers exactly their file", () => {
  assertEquals(
    sandboxPermissions({ host: "10.0.0.5", port: 8193, options: { lib: "/opt/focas/libfwlib32.so" } }, {
      network: true,
      libraryOption: "lib",
    }),
    { net: ["10.0.0.5:8193"], read: ["/opt/focas/libfwlib32.so"], ffi: ["/opt/focas/libfwlib32.so"] },
  );
  assertEquals(sandboxPermissions({ host: null, port: null, options: { seed: 1 } }, { network: false }), {
    net: false,
    read: false,
    ffi: false,
  });
  // The machine's scratch folder, when the host gives one, is the one place it may write.
  assertEquals(
    sandboxPermissions({ host: null, port: null, options: {} }, { network: false }, "/data/machines/m1")
      .write,
    ["/data/machines/m1"],
  );
  assertEquals(workerPermissions({ net: false, read: false, ffi: false, write: ["/d/m"] }).write, ["/d/m"]);
  // A library option left unset grants nothing.
  assertEquals(
    sandboxPermissions({ host: "h", port: 1, options: {} }, { network: true, libraryOption: "lib" }).ffi,
    false,
  );
});

Deno.test("netDescriptor: IPv6 literals in brackets", () => {
  assertEquals(netDescriptor("::1", 80), "[::1]:80");
  assertEquals(netDescriptor("[::1]", 80), "[::1]:80");
  assertEquals(netDescriptor("cnc-01.local", 8193), "cnc-01.local:8193");
});

Deno.test("workerPermissions: everything not granted is off", () => {
  assertEquals(workerPermissions({ net: ["h:1"], read: false, ffi: false }), {
    net: ["h:1"],
    read: false,
    ffi: false,
    env: false,
    run: false,
    write: false,
    sys: false,
    import: false,
  });
});
