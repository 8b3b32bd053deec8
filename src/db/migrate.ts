import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";

/**
 * Numbered SQL migrations in src/db/migrations, each applied once, in order,
 * in its own transaction. An advisory lock serializes instances so two
 * daemons starting at once cannot race; a released file is never edited
 * (its checksum is recorded and verified).
 */

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src/db/migrations");
const SOURCE_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "migrations");
const LOCK_KEY = 7_248_263_011; // arbitrary, fixed: "payrecon migrations"

export interface Migration {
  id: number;
  name: string;
  sql: string;
  checksum: string;
}

function migrationsDir(): string {
  // Running from src (tsx, vitest) the files sit beside this module; from dist they are shipped in src/db/migrations.
  try {
    readdirSync(SOURCE_MIGRATIONS_DIR);
    return SOURCE_MIGRATIONS_DIR;
  } catch {
    return MIGRATIONS_DIR;
  }
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{6}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), "utf8");
      return {
        id: Number(file.slice(0, 6)),
        name: file.replace(/\.sql$/, ""),
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    });
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

/** Applies pending migrations; returns the names applied now. */
export async function migrate(pool: pg.Pool, migrations = loadMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    // Waiting for another instance's migrations, or building an index on a big table, may rightly take
    // longer than DATABASE_STATEMENT_TIMEOUT; reset before the connection goes back to the pool.
    await client.query("set statement_timeout = 0");
    await client.query("select pg_advisory_lock($1)", [LOCK_KEY]);
    await client.query(`create table if not exists schema_migrations (
      id integer primary key, name text not null, checksum text not null, applied_at timestamptz not null default now())`);
    const done = new Map(
      (await client.query<{ id: number; checksum: string }>("select id, checksum from schema_migrations")).rows.map(
        (row) => [row.id, row.checksum],
      ),
    );
    for (const migration of migrations) {
      const checksum = done.get(migration.id);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(`migration ${migration.name} was edited after it was applied`);
        }
        continue;
      }
      await client.query("begin");
      try {
        await client.query(migration.sql);
        await client.query("insert into schema_migrations (id, name, checksum) values ($1, $2, $3)", [
          migration.id,
          migration.name,
          migration.checksum,
        ]);
        await client.query("commit");
        applied.push(migration.name);
      } catch (error) {
        await client.query("rollback");
        throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
    }
    return applied;
  } finally {
    await client.query("select pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => {});
    await client.query("reset statement_timeout").catch(() => {});
    client.release();
  }
}

/** True when every known migration is applied (for /readyz). */
export async function migrationsApplied(db: pg.Pool, migrations = loadMigrations()): Promise<boolean> {
  const result = await db.query<{ count: string }>(
    "select count(*) as count from schema_migrations where id = any($1::int[])",
    [migrations.map((migration) => migration.id)],
  );
  return Number(result.rows[0]?.count) === migrations.length;
}
