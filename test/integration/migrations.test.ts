import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadMigrations, MigrationError, migrate, migrationsApplied } from "../../src/db/migrate.js";
import { emptyDatabase } from "../support/database.js";

describe("migrations", () => {
  it("applies each migration once when several instances start at once", async () => {
    const db = await emptyDatabase();
    try {
      const runs = await Promise.all(Array.from({ length: 4 }, () => migrate(db.pool())));
      const all = loadMigrations().map((migration) => migration.name);
      // Exactly one instance applied them; the others found them applied.
      expect(runs.filter((applied) => applied.length > 0)).toEqual([all]);
      const pool = db.pool();
      expect(await migrationsApplied(pool)).toBe(true);
      const rows = await pool.query("select count(*)::int as n from schema_migrations");
      expect(rows.rows[0].n).toBe(all.length);
    } finally {
      await db.drop();
    }
  });

  it("refuses a migration edited after it was applied, and rolls back a failing one", async () => {
    const db = await emptyDatabase();
    try {
      const dir = mkdtempSync(path.join(tmpdir(), "migrations-"));
      writeFileSync(path.join(dir, "000001_first.sql"), "create table a (id int);");
      await migrate(db.pool(), loadMigrations(dir));
      writeFileSync(path.join(dir, "000001_first.sql"), "create table a (id bigint);");
      await expect(migrate(db.pool(), loadMigrations(dir))).rejects.toThrow(MigrationError);
      writeFileSync(path.join(dir, "000001_first.sql"), "create table a (id int);");
      writeFileSync(path.join(dir, "000002_broken.sql"), "create table b (id int); select no_such_function();");
      await expect(migrate(db.pool(), loadMigrations(dir))).rejects.toThrow(/000002_broken/);
      const pool = db.pool();
      const b = await pool.query("select to_regclass('b') as t");
      expect(b.rows[0].t).toBeNull();
    } finally {
      await db.drop();
    }
  });
});
