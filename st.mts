import { mkdtempSync, chmodSync } from "node:fs";
import pg from "pg";
import { startEmbeddedPostgres } from "./src/db/embeddedPostgres.ts";
import { createLogger } from "./src/logger.ts";
const dir = mkdtempSync("/tmp/pgst-"); chmodSync(dir, 0o755);
const s = await startEmbeddedPostgres(dir, createLogger("silent"), { database: "postgres" });
const c = new pg.Client({ connectionString: s.url }); await c.connect();
console.log((await c.query("select now()::text")).rows[0]);
await c.query("set statement_timeout = '1s'");
const t = Date.now();
try { await c.query("select pg_sleep(4)"); console.log("no timeout", Date.now() - t); } catch (e) { console.log("timeout", (e as Error).message, Date.now() - t); }
await c.end(); await s.stop();
