import { openDatabase } from "../daemon.js";
import { migrate } from "../db/migrate.js";
import type { Command } from "./types.js";

/** `payrecon migrate`: apply pending migrations and exit. */
export const runMigrate: Command = async (config, log) => {
  const database = await openDatabase(config, log, 2);
  try {
    const applied = await migrate(database.pool);
    log.info({ applied }, applied.length ? "migrations applied" : "database is up to date");
    return 0;
  } finally {
    await database.close();
  }
};
