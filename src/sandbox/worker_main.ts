/**
 * The driver worker process (`simco-agent __worker`): one per machine, started by the agent (machine_worker.ts),
 * speaking the NDJSON protocol of protocol.ts on stdin/stdout.
 *
 * The driver itself runs in a Web Worker (driver_host.ts) whose Deno permissions are exactly those in the
 * `init` request. Once that Web Worker has loaded, this process revokes all of its own permissions, so even
 * code that escaped into this thread could not reach further than the driver. This thread only relays
 * messages; it stays responsive while the driver blocks or busy-loops, so:
 * - stdin closing (the agent exited or was killed) ends the process at once, busy driver or not;
 * - SIGTERM is not listened for, so it ends the process (the agent follows with SIGKILL anyway);
 * - a Web Worker that dies from an uncaught error ends the process with exit code 70 after a `fatal` line;
 * - a driver calling `Deno.exit(code)` ends the process with that code (see driver_host.ts).
 */
import { readLines } from "./line_framing.ts";
import {
  MAX_LINE_BYTES,
  oneLine,
  PROTOCOL_VERSION,
  type Request,
  type SandboxPermissions,
} from "./protocol.ts";
import { workerPermissions } from "./permissions.ts";
import { confineThisWorker } from "./confine/worker.ts";
import { parseSecretLine } from "./reply_auth.ts";

/**
 * What of a message from the driver's Web Worker goes into a reply: the known fields of the known reply
 * types, nothing else (no `auth`, `id` or `hello` a driver posting to this thread directly might add).
 */
export function hostReply(m: Record<string, unknown>): Record<string, unknown> {
  switch (m?.type) {
    case "ready":
    case "closed":
      return { type: m.type };
    case "telemetry": {
      // One reading (`metrics`) or a batch (`readings`, optional `cursor` and `status`); absent stays absent.
      const out: Record<string, unknown> = { type: "telemetry", ts: m.ts };
      for (const k of ["metrics", "readings", "cursor", "status"]) if (m[k] !== undefined) out[k] = m[k];
      return out;
    }
    case "error":
      return {
        type: "error",
        code: m.code,
        message: typeof m.message === "string" ? m.message : String(m.message),
      };
    default:
      return {
        type: "error",
        code: "protocol",
        message: `the driver's Web Worker sent a ${String(m?.type)} message`,
      };
  }
}

/** Exit code of a worker whose driver's Web Worker died from an uncaught error. */
export const EXIT_DRIVER_DIED = 70;

/** Exit code of a worker whose stdin carried something that is not a request. */
export const EXIT_BAD_REQUEST = 65;

const encoder = new TextEncoder();

// The spawn's secret (reply_auth.ts): the first stdin line, read before any driver code exists; only this
// thread holds it, and every line written to stdout carries it, so lines the driver forges are recognised.
let secret = "";

function write(msg: Record<string, unknown>): void {
  const bytes = encoder.encode(JSON.stringify({ ...msg, auth: secret }) + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

const PERMISSION_NAMES = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;

function revokeOwnPermissions(): void {
  for (const name of PERMISSION_NAMES) Deno.permissions.revokeSync({ name });
}

function parseRequest(line: string): Request | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return `request is not JSON: ${JSON.stringify(oneLine(line, 80))}`;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "request is not a JSON object";
  const r = v as Record<string, unknown>;
  if (!Number.isSafeInteger(r.id) || (r.id as number) <= 0) return "request has no positive integer id";
  if (r.op !== "init" && r.op !== "poll" && r.op !== "close") return `unknown op ${JSON.stringify(r.op)}`;
  if (r.op === "init" && (typeof r.module !== "string" || !/^(file|data):/.test(r.module))) {
    return `init needs the driver's module as a file: URL, got ${JSON.stringify(r.module)}`;
  }
  return r as unknown as Request;
}

/**
 * Source of the driver's Web Worker entry: this sandbox's driver host first (its console and `Deno.exit`
 * overrides are in place before any driver code runs), then the machine's own driver module, nothing else. As
 * the Web Worker's static graph, the driver's modules load with no read permission granted to the driver.
 */
export function driverEntrySource(module: string): string {
  const host = new URL("./driver_host.ts", import.meta.url).href;
  return `import { hostDriver } from ${JSON.stringify(host)};\n` +
    `import * as driver from ${JSON.stringify(module)};\n` +
    `hostDriver(driver.createDriver);\n`;
}

/** Runs the worker until stdin closes or a `close` request is answered; resolves to the exit code. */
export async function runWorker(): Promise<number> {
  let host: Worker | null = null;
  let current: Request | null = null; // the request the Web Worker is working on
  let lastId = 0; // the request answered last

  const onHostMessage = (e: MessageEvent) => {
    const m = e.data as Record<string, unknown>;
    if (m.type === "exit") {
      Deno.exit(typeof m.code === "number" ? m.code : 1);
    }
    if (current === null) {
      // The driver's isolate can post to this thread directly: a message no request is waiting for is a second
      // reply, and the agent treats it as a protocol failure at once.
      write({ type: "error", id: lastId, code: "protocol", message: `second reply to request ${lastId}` });
      return;
    }
    const id = current.id;
    const op = current.op;
    lastId = id;
    current = null;
    write({ ...hostReply(m), id });
    if (op === "close") Deno.exit(0);
    pump();
  };

  const startHost = (
    permissions: SandboxPermissions,
    machineId: string,
    module: string,
  ): [Worker, Promise<string | null>] => {
    const entry = `data:application/typescript,${encodeURIComponent(driverEntrySource(module))}`;
    const w = new Worker(entry, {
      type: "module",
      name: `driver:${machineId}`,
      deno: { permissions: workerPermissions(permissions) },
    });
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      write({ type: "fatal", message: oneLine(`driver worker died: ${e.message}`) });
      Deno.exit(EXIT_DRIVER_DIED);
    };
    w.onmessageerror = () => {
      write({ type: "fatal", message: "driver worker sent a message that could not be received" });
      Deno.exit(EXIT_DRIVER_DIED);
    };
    const loaded = new Promise<string | null>((resolve) => {
      w.onmessage = (e: MessageEvent) => {
        const m = e.data as Record<string, unknown>;
        if (m?.type === "loaded") {
          // The driver's module graph is loaded: from here on this process needs no permission at all (and
          // with it revoked, the driver can no longer import files either).
          revokeOwnPermissions();
          w.onmessage = onHostMessage;
          resolve(typeof m.problem === "string" ? m.problem : null);
        }
      };
    });
    return [w, loaded];
  };

  const queue: Request[] = []; // requests received while the driver is busy: answered in order

  /** Starts the next queued request when the driver is idle. */
  const pump = (): void => {
    while (current === null && queue.length > 0) {
      const req = queue.shift()!;
      if (req.op === "init") {
        if (host !== null) {
          write({ type: "error", id: req.id, code: "protocol", message: "init sent twice" });
          continue;
        }
        let started: [Worker, Promise<string | null>];
        try {
          started = startHost(req.permissions, req.ctx.machineId, req.module);
        } catch (e) {
          const message = oneLine(`cannot start the driver's Web Worker: ${String(e)}`);
          write({ type: "error", id: req.id, code: "driver_error", message });
          continue;
        }
        const h = started[0];
        host = h;
        // Busy until the Web Worker answers init. Not awaited: stdin must keep being read (to notice the agent
        // going away) even while the driver's modules load, or hang loading.
        current = req;
        started[1].then((problem) => {
          if (problem === null) {
            h.postMessage(req);
            return;
          }
          current = null;
          write({ type: "error", id: req.id, code: "driver_error", message: oneLine(problem) });
          pump();
        });
        continue;
      }
      if (host === null) {
        if (req.op === "close") {
          write({ type: "closed", id: req.id });
          Deno.exit(0);
        }
        write({ type: "error", id: req.id, code: "protocol", message: "poll before init" });
        continue;
      }
      current = req;
      host.postMessage(req);
    }
  };

  for await (const item of readLines(Deno.stdin.readable, MAX_LINE_BYTES)) {
    if ("overflow" in item) {
      console.error(`worker: request line longer than ${MAX_LINE_BYTES} bytes`);
      return EXIT_BAD_REQUEST;
    }
    if (item.line.trim() === "") continue;
    if (secret === "") {
      const first = parseSecretLine(item.line);
      if ("problem" in first) {
        console.error(`worker: ${first.problem}`);
        return EXIT_BAD_REQUEST;
      }
      secret = first.secret;
      write({ type: "hello", protocol: PROTOCOL_VERSION, pid: Deno.pid });
      continue;
    }
    const req = parseRequest(item.line);
    if (typeof req === "string") {
      console.error(`worker: ${req}`);
      return EXIT_BAD_REQUEST;
    }
    queue.push(req);
    pump();
  }
  // stdin closed: the agent is gone (or closed us). Exit now, even if the driver is still busy.
  return 0;
}

/**
 * True for exactly the command lines the agent uses to start a worker (`__worker` or
 * `__worker --machine ID`); main.ts then skips the CLI. Anything else (`__worker --help`) goes to the CLI.
 */
export function isWorkerInvocation(argv: readonly string[]): boolean {
  return argv[0] === "__worker" && (argv.length === 1 || (argv.length === 3 && argv[1] === "--machine"));
}

/** Entry point used by main.ts for worker invocations: runs the worker and resolves to its exit code. */
export function workerEntry(_argv: readonly string[]): Promise<number> {
  // OS confinement first (docs/worker-protocol.md, threat model): may re-exec this process, or exit.
  confineThisWorker();
  return runWorker();
}
