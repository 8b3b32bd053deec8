#!/usr/bin/env node
import { ConfigError, type Config, loadConfig } from "./config.js";
import { openDatabase, startDaemon } from "./daemon.js";
import { migrate } from "./db/migrate.js";
import { createLogger, type Logger } from "./logger.js";
import { VERSION } from "./version.js";

/**
 * The `payrecon` command. Configuration is read here, once, from the
 * environment; everything below receives it as a parameter.
 */

const USAGE = `payrecon ${VERSION} — payment-gateway monitoring and reconciliation

usage: payrecon [command]

commands:
  start     run the daemon (default)
  migrate   apply pending database migrations and exit

Configuration is read from the environment; see README.md.`;

type Command = (config: Config, log: Logger, args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  start: runDaemon,
  migrate: runMigrate,
};

async function runMigrate(config: Config, log: Logger): Promise<number> {
  const database = await openDatabase(config, log, 2);
  try {
    const applied = await migrate(database.pool);
    log.info({ applied }, applied.length ? "migrations applied" : "database is up to date");
    return 0;
  } finally {
    await database.close();
  }
}

async function runDaemon(config: Config, log: Logger): Promise<number> {
  const daemon = await startDaemon(config, log);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, deadlineMs: config.shutdownTimeoutMs }, "shutting down");
      const deadline = setTimeout(() => {
        log.error("shutdown deadline passed: exiting");
        process.exit(1);
      }, config.shutdownTimeoutMs);
      deadline.unref();
      daemon.stop().then(
        () => {
          log.info("stopped");
          resolve(0);
        },
        (error) => {
          log.error({ err: error }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  });
}

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
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`payrecon: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  try {
    return await command(config, log, args);
  } catch (error) {
    log.fatal({ err: error }, `payrecon ${name} failed`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Flush stdout (the JSON log) before leaving; open handles (pg, kafka) would otherwise keep us alive.
    process.stdout.write("", () => process.exit(code));
  },
  (error) => {
    process.stderr.write(`payrecon: ${String(error)}\n`);
    process.exit(1);
  },
);
