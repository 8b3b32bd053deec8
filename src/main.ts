#!/usr/bin/env node
import { runImport } from "./commands/import.js";
import { runMigrate } from "./commands/migrate.js";
import { runReport } from "./commands/report.js";
import { runSimulate } from "./commands/simulate.js";
import { runStart } from "./commands/start.js";
import { type Command, USAGE_ERROR } from "./commands/types.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { START_REFUSED, StartRefused } from "./startRefused.js";
import { VERSION } from "./version.js";

/**
 * The `payrecon` command. Configuration is read here, once, from the
 * environment; every command receives it as a parameter.
 */

const USAGE = `payrecon ${VERSION} — payment-gateway monitoring and reconciliation

usage: payrecon [command] [options]

commands:
  start     run the daemon (default)
  migrate   apply pending database migrations and exit
  report    print the reconciliation report (payrecon report --help)
  import    import a bank statement or a gateway settlement report (payrecon import --help):
            payrecon import <camt053|camt054|mt940|bai2> FILE [--bank NAME] [--allow-total-mismatch] [--dry-run]
            payrecon import adyen-settlement FILE [--dry-run]
  simulate  send realistic traffic with incidents (payrecon simulate --help)

Configuration is read from the environment; see README.md.`;

const commands: Record<string, Command> = {
  start: runStart,
  migrate: runMigrate,
  report: runReport,
  simulate: runSimulate,
  import: runImport,
};

async function main(argv: string[]): Promise<number> {
  const [name = "start", ...args] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (name === "--version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`payrecon: unknown command "${name}"\n\n${USAGE}\n`);
    return USAGE_ERROR;
  }
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
  const log = createLogger(config.logLevel, name === "start" ? undefined : process.stderr);
  try {
    return await command(config, log, args);
  } catch (error) {
    if (error instanceof StartRefused) {
      process.stderr.write(`payrecon: ${error.message}\n`);
      return START_REFUSED;
    }
    log.fatal({ err: error }, `payrecon ${name} failed`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Flush stdout before leaving; open handles (pg, kafka) would otherwise keep the process alive.
    process.stdout.write("", () => process.exit(code));
  },
  (error) => {
    process.stderr.write(`payrecon: ${String(error)}\n`);
    process.exit(1);
  },
);
