/**
 * The MTConnect driver's static description: what the registry (drivers/registry.ts) and the config parser
 * know of it. Pure data: no I/O and no import of driver code (the driver runs only inside a machine's
 * sandboxed worker).
 */
import type { DriverDescription } from "../types.ts";

/** Name, option schema and sample options of `driver = "mtconnect"`. */
export const MTCONNECT: DriverDescription = {
  name: "mtconnect",
  summary:
    "MTConnect agent over HTTP (/probe, /current, /sample): every state change, resumes after restarts",
  network: true,
  defaultPort: 5000,
  options: {
    device: {
      type: "string",
      description: "device name or uuid; required when the agent serves more than one device",
    },
    path_prefix: {
      type: "string",
      default: "",
      pattern: /^(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*\/?$/,
      description:
        'path in front of /probe, /current, /sample (an agent behind a reverse proxy), e.g. "/mtc"',
    },
    sample_count: {
      type: "integer",
      min: 1,
      max: 10_000,
      default: 1000,
      description: "observations asked for per /sample request",
    },
    max_clock_skew: {
      type: "duration",
      default: "2m",
      minMs: 0,
      description: "warn (once per connection) when the agent's clock is further off than this",
    },
  },
  sampleOptions: { device: "VMC-3Axis", sample_count: 1000, max_clock_skew: "2m" },
};
