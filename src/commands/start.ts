import { startDaemon } from "../daemon.js";
import type { Command } from "./types.js";

export const START_USAGE = `usage: payrecon start

Runs the daemon until SIGTERM or SIGINT: consumes Kafka (KAFKA_BROKERS) or HTTP ingest, reconciles,
serves the API, health (/healthz, /readyz) and /metrics on HTTP_PORT. Configuration is read from the
environment (README.md, Configuration). Without DATABASE_URL it runs an embedded PostgreSQL in DATA_DIR,
which one daemon at a time may own.

  -h, --help     this text`;

/** `payrecon start`: run until SIGTERM/SIGINT; the first drains within SHUTDOWN_TIMEOUT, a second exits at once. */
export const runStart: Command = async (config, log) => {
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
};
