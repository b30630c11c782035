/** Argument parsing for one subcommand: long flags (`--x v`, `--x=v`), `-h`, positionals. */
import { didYouMean } from "../util/suggest.ts";
import { type Command, type ParsedArgs, UsageError } from "./command.ts";

/** Result of {@link parseArgs}: either the parsed arguments or a request for help. */
export type ArgsResult = { help: true } | { help: false; args: ParsedArgs };

/** Parses `argv` (the words after the subcommand) against the command's flag and positional specs. */
export function parseArgs(cmd: Command, argv: readonly string[]): ArgsResult {
  const flags: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  const names = cmd.flags.map((f) => f.name);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "-h" || word === "--help") return { help: true };
    if (word === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith("-") && word !== "-") {
      const eq = word.indexOf("=");
      const name = word.replace(/^--?/, "").slice(
        0,
        eq > 0 ? eq - (word.startsWith("--") ? 2 : 1) : undefined,
      );
      const spec = cmd.flags.find((f) => f.name === name);
      if (!spec) {
        const hint = didYouMean(name, names).replace(/"(.*)"/, '"--$1"');
        throw new UsageError(`unknown flag ${word.split("=")[0]} for '${cmd.name}'${hint}`, true);
      }
      if (spec.type === "boolean") {
        if (eq > 0) throw new UsageError(`flag --${name} takes no value`, true);
        flags[name] = true;
      } else {
        const value = eq > 0 ? word.slice(eq + 1) : argv[++i];
        if (value === undefined || value === "") {
          throw new UsageError(`flag --${name} needs a value (${spec.value ?? "VALUE"})`, true);
        }
        if (flags[name] !== undefined) throw new UsageError(`flag --${name} given twice`, true);
        flags[name] = value;
      }
      continue;
    }
    positionals.push(word);
  }
  for (const f of cmd.flags) {
    if (f.required && flags[f.name] === undefined) {
      throw new UsageError(`missing --${f.name} ${f.value ?? ""}`.trimEnd(), true);
    }
  }
  if (positionals.length < cmd.positionals.length) {
    const missing = cmd.positionals[positionals.length];
    throw new UsageError(`missing ${missing.name} (${missing.description})`, true);
  }
  if (positionals.length > cmd.positionals.length) {
    const extra = positionals[cmd.positionals.length];
    // `check machines.toml`: the file was meant for --config.
    const hint = /\.toml$/i.test(extra) && names.includes("config") && flags.config === undefined
      ? `; did you mean "--config ${extra}"?`
      : "";
    throw new UsageError(`unexpected argument "${extra}"${hint}`, true);
  }
  cmd.positionals.forEach((p, i) => {
    if (p.values && !p.values.includes(positionals[i])) {
      throw new UsageError(
        `unknown ${p.name} "${positionals[i]}"${didYouMean(positionals[i], p.values)} (expected one of: ${
          p.values.join(", ")
        })`,
        true,
      );
    }
  });
  return { help: false, args: { flags, positionals } };
}

/** One-line usage of a command, e.g. `simco-agent poll MACHINE_ID --config FILE`. */
export function usageLine(cmd: Command): string {
  const parts = [`simco-agent ${cmd.name}`];
  for (const p of cmd.positionals) parts.push(p.values ? p.values.join("|") : p.name);
  for (const f of cmd.flags) {
    const flag = `--${f.name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    parts.push(f.required ? flag : `[${flag}]`);
  }
  return parts.join(" ");
}

/** Full help text of one command. */
export function commandHelp(cmd: Command): string {
  const lines = [`Usage: ${usageLine(cmd)}`, "", cmd.summary];
  if (cmd.details) lines.push("", cmd.details);
  if (cmd.positionals.length) {
    lines.push("", "Arguments:");
    for (const p of cmd.positionals) lines.push(`  ${p.name.padEnd(22)} ${p.description}`);
  }
  lines.push("", "Flags:");
  for (const f of cmd.flags) {
    const left = `--${f.name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    lines.push(`  ${left.padEnd(22)} ${f.description}${f.required ? " (required)" : ""}`);
  }
  lines.push(`  ${"-h, --help".padEnd(22)} show this help`);
  return lines.join("\n");
}
