import type pg from "pg";

/** PostgreSQL errors worth retrying: serialization failure, deadlock, lock timeout. */
const RETRIABLE_SQLSTATES = new Set(["40001", "40P01", "55P03"]);
/** Connection-level failures: the database is away; the caller retries the whole batch later. */
const CONNECTION_SQLSTATES = /^(08|57P0)/;

export function isRetriableDbError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return typeof code === "string" && (RETRIABLE_SQLSTATES.has(code) || CONNECTION_SQLSTATES.test(code));
}

export interface TransactionOptions {
  /** A lock held longer than this by someone else fails fast instead of wedging the caller. */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Attempts for deadlocks and serialization failures, with jittered backoff. */
  attempts?: number;
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
      await client.query(`select set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`, [
        `${options.lockTimeoutMs ?? 10_000}ms`,
        `${options.statementTimeoutMs ?? 60_000}ms`,
      ]);
      const result = await work(client);
      await client.query("commit");
      return result;
    } catch (error) {
      try {
        await client.query("rollback");
      } catch {
        broken = true; // connection gone: do not return it to the pool
      }
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
