#!/usr/bin/env node
import { IMPORT_USAGE, runImport } from "./commands/import.js";
import { MIGRATE_USAGE, runMigrate } from "./commands/migrate.js";
import { REPORT_USAGE, runReport } from "./commands/report.js";
import { runSimulate, SIMULATE_USAGE } from "./commands/simulate.js";
import { runStart, START_USAGE } from "./commands/start.js";
import { type Command, USAGE_ERROR, usageError } from "./commands/types.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createLogger, resolveLogFormat } from "./logger.js";
import { START_REFUSED, StartRefused } from "./startRefused.js";
import { VERSION } from "./version.js";

/**
 * The `payrecon` command. Configuration is read here, once, from the
 * environment; every command receives it as a parameter. Help and the
 * version are answered before configuration is read, and do nothing else.
 */

const USAGE = `payrecon ${VERSION} — payment-gateway monitoring and reconciliation

usage: payrecon [command] [options]

commands:
  start     run the daemon (default)
  migrate   apply pending database migrations and exit
  report    print the reconciliation report
  import    import a bank statement or a gateway settlement report:
            payrecon import <camt053|camt054|mt940|bai2> FILE [--bank NAME] [--encoding NAME] [--strict] [--dry-run]
            payrecon import adyen-settlement FILE [--dry-run]
  simulate  send realistic traffic with incidents
  help      payrecon help <command>: that command's options
  version   print the version (also --version, -v)

exit codes: 0 done, 1 failed (the log says why), 2 wrong usage or bad configuration,
            3 start refused (HTTP_PORT in use, or DATA_DIR owned by another running payrecon)

Configuration is read from the environment; see README.md.`;

interface CommandEntry {
  run: Command;
  usage: string;
  /** Commands without options refuse any argument rather than ignore it. */
  takesArguments: boolean;
}

const commands: Record<string, CommandEntry> = {
  start: { run: runStart, usage: START_USAGE, takesArguments: false },
  migrate: { run: runMigrate, usage: MIGRATE_USAGE, takesArguments: false },
  report: { run: runReport, usage: REPORT_USAGE, takesArguments: true },
  simulate: { run: runSimulate, usage: SIMULATE_USAGE, takesArguments: true },
  import: { run: runImport, usage: IMPORT_USAGE, takesArguments: true },
};

/** Help and the version: printed, exit 0. */
function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}

/** `-h`/`--help` anywhere before a `--`: nothing but the help, whatever else is on the line. */
const asksForHelp = (args: string[]) => {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
};

function unknownCommand(name: string): number {
  process.stderr.write(`payrecon: unknown command "${name}" (see payrecon --help)\n`);
  return USAGE_ERROR;
}

async function main(argv: string[]): Promise<number> {
  const [name = "start", ...args] = argv;
  if (name === "--help" || name === "-h") return print(USAGE);
  if (name === "--version" || name === "-v" || name === "version") return print(VERSION);
  if (name === "help") {
    const [topic, ...extra] = args;
    if (topic === undefined) return print(USAGE);
    if (extra.length > 0) return usageError("help", `unexpected argument "${extra[0]}"`);
    const entry = commands[topic];
    return entry ? print(entry.usage) : unknownCommand(topic);
  }
  const command = commands[name];
  if (!command) return unknownCommand(name);
  if (asksForHelp(args)) return print(command.usage);
  if (!command.takesArguments && args.length > 0) return usageError(name, `unexpected argument "${args[0]}"`);

  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`payrecon: ${error.message}\n`);
      return USAGE_ERROR;
    }
    throw error;
  }
  // Logs go to stderr for the one-shot commands, so their stdout (a report, a summary) stays clean.
  const logTo = name === "start" ? process.stdout : process.stderr;
  const format = resolveLogFormat(config.logFormat, logTo.isTTY === true);
  const log = createLogger(config.logLevel, name === "start" ? undefined : process.stderr, format, `payrecon ${name}`);
  try {
    return await command.run(config, log, args);
  } catch (error) {
    // A configuration mistake found after start-up (DATABASE_URL missing where PostgreSQL is not embedded).
    if (error instanceof ConfigError) {
      process.stderr.write(`payrecon: ${error.message}\n`);
      return USAGE_ERROR;
    }
    if (error instanceof StartRefused) {
      process.stderr.write(`payrecon: ${error.message}\n`);
      return START_REFUSED;
    }
    // The log line carries the stack; the person at the terminal gets one line (and no log line repeating it).
    if (format === "json") log.fatal({ err: error }, `payrecon ${name} failed`);
    process.stderr.write(`payrecon ${name}: ${firstLine(error)}\n`);
    return 1;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.split("\n")[0]!;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Flush stdout before leaving; open handles (pg, kafka) would otherwise keep the process alive.
    process.stdout.write("", () => process.exit(code));
  },
  (error) => {
    process.stderr.write(`payrecon: ${firstLine(error)}\n`);
    process.exit(1);
  },
);
