import pg from "pg";

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
