/**
 * What a driver's Web Worker may touch, derived from the machine's configuration and nothing else:
 * `net` = exactly the machine's `host:port` (network drivers), `ffi` and `read` = exactly the driver's native
 * library file (drivers with `libraryOption`, when the option is set), `write` = exactly the machine's scratch
 * folder (when the host gives one), everything else off. Pure.
 */
import type { MachineConfig } from "../config/types.ts";
import type { DriverDescription } from "../../drivers/types.ts";
import type { SandboxPermissions } from "./protocol.ts";

/** Formats `host:port` as Deno's permission syntax wants it (IPv6 literals in brackets). */
export function netDescriptor(host: string, port: number): string {
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `${h}:${port}`;
}

/** The permissions of one machine's driver. */
export function sandboxPermissions(
  machine: Pick<MachineConfig, "host" | "port" | "options">,
  desc: Pick<DriverDescription, "network" | "libraryOption">,
  workDir: string | null = null,
): SandboxPermissions {
  const net = desc.network && machine.host !== null && machine.port !== null
    ? [netDescriptor(machine.host, machine.port)]
    : false;
  const lib = desc.libraryOption ? machine.options[desc.libraryOption] : undefined;
  const files = typeof lib === "string" && lib.length > 0 ? [lib] : false;
  const perms: SandboxPermissions = { net, read: files, ffi: files };
  return workDir === null ? perms : { ...perms, write: [workDir] };
}

/** The full Deno permission object for `new Worker(..., { deno: { permissions } })`. */
export function workerPermissions(p: SandboxPermissions): Deno.PermissionOptionsObject {
  return {
    net: p.net === false ? false : [...p.net],
    read: p.read === false ? false : [...p.read],
    ffi: p.ffi === false ? false : [...p.ffi],
    env: false,
    run: false,
    write: p.write ? [...p.write] : false,
    sys: false,
    import: false,
  };
}
