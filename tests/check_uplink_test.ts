/**
 * `check` finds what `run` would refuse, without connecting anywhere (issue 13, bug 4): no api key source,
 * an unset api_key_env (a warning for check, an error for run), a ca_file missing or not PEM, an api_key_file
 * unreadable (an error) or readable by every user (a warning). Real CLI processes, one config per case.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { runCli } from "./helpers/cli.ts";
import { tempDir } from "./helpers/temp_dir.ts";

interface Case {
  /** What the case is about. */
  readonly name: string;
  /** Lines of `[uplink]` after the url. */
  readonly uplink: string;
  /** Files to create in the plant folder first: name -> [text, mode]. */
  readonly files?: Record<string, [string, number]>;
  /** Expected exit code of check. */
  readonly check: 0 | 2;
  /** Text that must appear on check's stderr (error or warning). */
  readonly says: string;
  /** Whether run must refuse to start (exit 2) with the same text. */
  readonly runRefuses: boolean;
}

const CASES: readonly Case[] = [
  {
    name: "no api key source at all",
    uplink: "",
    check: 2,
    says: "uplink.api_key_env: no api key configured (expected uplink.api_key_env or uplink.api_key_file)",
    runRefuses: true,
  },
  {
    name: "api_key_env names an unset variable",
    uplink: 'api_key_env = "SIMCO_CHECK_TEST_UNSET"',
    check: 0,
    says: "warning: ",
    runRefuses: true,
  },
  {
    name: "ca_file missing",
    uplink: 'api_key_file = "api.key"\nca_file = "no-such-ca.pem"',
    files: { "api.key": ["k-check-123456", 0o600] },
    check: 2,
    says: "uplink.ca_file: ",
    runRefuses: true,
  },
  {
    name: "ca_file not PEM",
    uplink: 'api_key_file = "api.key"\nca_file = "ca.pem"',
    files: { "api.key": ["k-check-123456", 0o600], "ca.pem": ["this is not a certificate\n", 0o644] },
    check: 2,
    says: "expected a PEM certificate (BEGIN CERTIFICATE)",
    runRefuses: true,
  },
  {
    name: "ca_file with a PEM header around garbage",
    uplink: 'api_key_file = "api.key"\nca_file = "ca.pem"',
    files: {
      "api.key": ["k-check-123456", 0o600],
      "ca.pem": ["-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", 0o644],
    },
    check: 2,
    says: "uplink.ca_file: ",
    runRefuses: true,
  },
  {
    name: "api_key_file unreadable (a folder)",
    uplink: 'api_key_file = "keydir"',
    check: 2,
    says: "uplink.api_key_file: api key not readable: file ",
    runRefuses: true,
  },
  {
    name: "api_key_file readable by every user",
    uplink: 'api_key_file = "api.key"',
    files: { "api.key": ["k-check-123456", 0o644] },
    check: 0,
    says: "is readable by every user (mode 0644); expected only its owner to read it (chmod 600)",
    runRefuses: false,
  },
];

for (const c of CASES) {
  Deno.test({
    name: `check finds what run finds: ${c.name}`,
    // File modes are POSIX; on Windows the world-readable warning does not exist.
    ignore: Deno.build.os === "windows" && c.name.includes("every user"),
    async fn() {
      const dir = await tempDir("simco-check-");
      try {
        await Deno.mkdir(join(dir.path, "keydir"));
        for (const [name, [text, mode]] of Object.entries(c.files ?? {})) {
          Deno.writeTextFileSync(join(dir.path, name), text);
          Deno.chmodSync(join(dir.path, name), mode);
        }
        const cfg = join(dir.path, "machines.toml");
        Deno.writeTextFileSync(
          cfg,
          `[agent]\nid = "chk"\ndata_dir = "data"\n[uplink]\nurl = "http://127.0.0.1:9/v1/telemetry"\n${c.uplink}\n` +
            `[[machines]]\nid = "sim-1"\ndriver = "simulator"\n`,
        );
        const check = await runCli(["check", "--config", cfg], { cwd: dir.path });
        assertEquals(check.code, c.check, check.stderr + check.stdout);
        assertStringIncludes(check.stderr, c.says);
        assert(!check.stderr.includes("    at "), "stack trace");
        if (c.check === 0) assertStringIncludes(check.stdout, "configuration OK");
        else assertStringIncludes(check.stderr, `${cfg}: uplink.`);
        if (c.runRefuses) {
          const run = await runCli(["run", "--config", cfg], { cwd: dir.path });
          assertEquals(run.code, 2, run.stderr);
          assertStringIncludes(
            run.stderr,
            `${cfg}: ${c.says.startsWith("warning") ? "uplink.api_key_env" : ""}`,
          );
        }
      } finally {
        await dir.cleanup();
      }
    },
  });
}
