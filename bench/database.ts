import pg from "pg";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";

/**
 * A fresh database `name` on the bench's server, migrated, for a phase that must start from nothing. The
 * daemon's role may not create databases (issue 14): the superuser creates it, owned by that role.
 */
export async function freshDatabase(
  databaseUrl: string,
  superuserUrl: string,
  name: string,
  poolSize: number,
): Promise<{ url: string; pool: pg.Pool }> {
  const url = await createOwnedDatabase(superuserUrl, databaseUrl, name);
  // The daemon's pool (bigint columns as numbers): the world check pages facts by seq arithmetic, which on text
  // concatenated ("150000" + 50000) and failed phase (g)'s comparison.
  const pool = createPool(url, { max: poolSize, applicationName: "payrecon bench" });
  // Idle connections of a phase that failed must not crash the bench when the server stops.
  pool.on("error", () => {});
  await migrate(pool);
  return { url, pool };
}

/**
 * A database of its own for a bench phase, created by the superuser and owned by the daemon's role (which may not
 * create databases, issue 14); returns its URL (the daemon's credentials).
 */
export async function createOwnedDatabase(superuserUrl: string, url: string, name: string): Promise<string> {
  const database = new URL(url);
  const admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} owner ${admin.escapeIdentifier(decodeURIComponent(database.username))}`);
  } finally {
    await admin.end();
  }
  database.pathname = `/${name}`;
  return database.toString();
}
