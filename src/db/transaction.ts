import type pg from "pg";

/** PostgreSQL errors worth retrying: serialization failure, deadlock, lock timeout. */
const RETRIABLE_SQLSTATES = new Set(["40001", "40P01", "55P03"]);
/** Connection-level failures: the database is away; the caller retries the whole batch later. */
const CONNECTION_SQLSTATES = /^(08|57P0)/;

export function isRetriableDbError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return typeof code === "string" && (RETRIABLE_SQLSTATES.has(code) || CONNECTION_SQLSTATES.test(code));
}

/** Socket errors and pg's own connection messages (they carry no SQLSTATE). */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
const CLIENT_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/;

/**
 * The database cannot do the work right now — it is away (restart, failover, network), out of
 * connections, or a statement ran past its timeout — but the same work can succeed later.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // pg-pool wraps a failed connect ("Connection terminated due to connection timeout", cause: …).
  for (let depth = 0, e = error; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (isRetriableDbError(e)) return true;
    const code = (e as { code?: unknown }).code;
    if (code === "57014" || (typeof code === "string" && code.startsWith("53"))) return true;
    if (typeof code === "string" && SOCKET_CODES.has(code)) return true;
    if (CLIENT_MESSAGES.test(e.message)) return true;
  }
  return false;
}

export interface TransactionOptions {
  /** A lock held longer than this by someone else fails fast instead of wedging the caller. */
  lockTimeoutMs?: number;
  /** Absent: the connection's own (DATABASE_STATEMENT_TIMEOUT, set on the pool). */
  statementTimeoutMs?: number;
  /** Attempts for deadlocks and serialization failures, with jittered backoff. */
  attempts?: number;
}

const endHooks = new WeakMap<pg.PoolClient, Array<(committed: boolean) => void>>();

/**
 * Runs `hook` once the transaction `withTransaction` runs on `client` has committed (true) or rolled back (false),
 * whoever called it: state kept in memory beside the database (the memory engine's working set) follows it.
 */
export function onTransactionEnd(client: pg.PoolClient, hook: (committed: boolean) => void): void {
  const hooks = endHooks.get(client);
  if (!hooks) throw new Error("onTransactionEnd: not inside withTransaction");
  hooks.push(hook);
}

function transactionEnded(client: pg.PoolClient, committed: boolean): void {
  const hooks = endHooks.get(client) ?? [];
  endHooks.delete(client);
  for (const hook of hooks) hook(committed);
}

/** Runs `work` in one transaction on its own client; retries transient conflicts. */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query("begin");
      await client.query("select set_config('lock_timeout', $1, true)", [`${options.lockTimeoutMs ?? 10_000}ms`]);
      if (options.statementTimeoutMs !== undefined) {
        await client.query("select set_config('statement_timeout', $1, true)", [`${options.statementTimeoutMs}ms`]);
      }
      endHooks.set(client, []);
      const result = await work(client);
      await client.query("commit");
      transactionEnded(client, true);
      return result;
    } catch (error) {
      try {
        await client.query("rollback");
      } catch {
        broken = true; // connection gone: do not return it to the pool
      }
      // A failed COMMIT lands here too: whatever it did, the transaction's work counts as not done.
      transactionEnded(client, false);
      const code = (error as { code?: string }).code ?? "";
      if (attempt < attempts && RETRIABLE_SQLSTATES.has(code)) {
        await new Promise((resolve) => setTimeout(resolve, 2 ** attempt * 20 + Math.random() * 50));
        continue;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}
