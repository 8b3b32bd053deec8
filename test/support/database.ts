import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { createPool } from "../../src/db/pool.js";

/** A fresh database cloned from the migrated template: one per test, dropped at the end unless kept. */
export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${inject("templateDatabase")}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 5 });
  return {
    url: url.toString(),
    name,
    pool,
    async drop() {
      await pool.end().catch(() => {});
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** An empty database (no migrations), for tests that migrate it themselves; `pool()` opens a pool on it. */
export async function emptyDatabase(): Promise<{ pool: () => pg.Pool; drop: () => Promise<void> }> {
  const adminUrl = inject("adminDatabaseUrl");
  const name = `m_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pools: pg.Pool[] = [];
  return {
    pool: () => {
      const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
      // drop() terminates the database's connections: one a pool is still closing then reports an error
      // on the pool, which would be thrown as uncaught without a listener (seen on a busy machine).
      pool.on("error", () => {});
      pools.push(pool);
      return pool;
    },
    drop: async () => {
      for (const pool of pools) await pool.end();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database ${name} with (force)`);
      await client.end();
    },
  };
}
