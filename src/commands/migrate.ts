import { openDatabase } from "../daemon.js";
import { migrate } from "../db/migrate.js";
import type { Command } from "./types.js";

export const MIGRATE_USAGE = `usage: payrecon migrate

Applies the pending database migrations (DATABASE_URL, or the embedded PostgreSQL in DATA_DIR) and exits.
The daemon also applies them at start; instances serialize on an advisory lock.

  -h, --help     this text`;

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
