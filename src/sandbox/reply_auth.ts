/**
 * Forge-proof replies. The driver's Web Worker shares the worker process's stdout, so a driver can write lines
 * that look like replies (learning request ids is easy: it sees every request it is asked to serve). Each
 * worker process therefore gets a fresh secret from the agent as the **first line on its stdin**, before any
 * driver code exists; the worker's main thread keeps it in a variable the driver's isolate cannot reach and
 * puts it into every line it writes (`"auth"`). A line without the right secret is a protocol failure at once.
 *
 * Why stdin and not the environment or the command line: native code in the process can read
 * `/proc/self/environ` and `/proc/self/cmdline`; stdin is consumed once and gone. What this does not stop:
 * native code loaded through FFI runs in the same address space and can in principle scan the main thread's
 * heap for the secret (that is for OS confinement to contain, docs/worker-protocol.md "Threat model").
 *
 * Pure: the random source is injected for tests.
 */

/** Length of a secret in bytes (hex-encoded on the wire: 32 characters). */
export const SECRET_BYTES = 16;

/** A new random secret, hex-encoded. */
export function newSecret(
  random: (buf: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  const bytes = random(new Uint8Array(SECRET_BYTES));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** True for a well-formed secret (what the worker accepts as its first stdin line). */
export function isSecret(v: unknown): v is string {
  return typeof v === "string" && v.length === SECRET_BYTES * 2 && /^[0-9a-f]+$/.test(v);
}

/** The first line the agent writes to a fresh worker: `{"secret":"<hex>"}`. */
export function secretLine(secret: string): string {
  return JSON.stringify({ secret }) + "\n";
}

/** Parses the worker's first stdin line; returns the secret or a one-line problem. */
export function parseSecretLine(line: string): { secret: string } | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { problem: "expected the spawn secret as the first line, got something that is not JSON" };
  }
  const s = (v as Record<string, unknown> | null)?.secret;
  return isSecret(s) ? { secret: s } : {
    problem: `expected the spawn secret as the first line ({"secret": ${SECRET_BYTES * 2} hex digits})`,
  };
}

/**
 * Checks a reply object's `auth` against the spawn's secret. Constant-time in the secret's length so that
 * timing tells nothing (the first failure ends the process anyway). Returns null when authentic.
 */
export function checkAuth(reply: Record<string, unknown>, secret: string): string | null {
  const a = reply.auth;
  if (typeof a !== "string") {
    return "reply without the worker's secret (written by the driver, not the worker)";
  }
  let diff = a.length ^ secret.length;
  for (let i = 0; i < secret.length; i++) diff |= (a.charCodeAt(i) | 0) ^ secret.charCodeAt(i);
  return diff === 0 ? null : "reply with a wrong secret (written by the driver, not the worker)";
}
