import pg from "pg";

/**
 * The executor every query function takes: the pool, or a client inside an
 * open transaction, so facts, statuses and exceptions commit together.
 */
export type Db = pg.Pool | pg.PoolClient;

// bigint columns (money) come back as JS numbers: amounts are checked to be safe integers on the way in.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} exceeds the safe integer range`);
  return value;
});
// dates stay YYYY-MM-DD text: a calendar date has no time zone to shift.
pg.types.setTypeParser(pg.types.builtins.DATE, (text) => text);

export function createPool(
  url: string,
  options: { max?: number; applicationName?: string; statementTimeoutMs?: number } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "payrecon",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A statement that runs this long is stuck (DATABASE_STATEMENT_TIMEOUT): fail it rather than wedge a
    // partition; the consumer retries its batch. Absent: the server's own setting.
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
  });
  // An idle client that loses its connection (database restart) must not crash the process.
  pool.on("error", () => {});
  // Nor may a checked-out one: pg emits 'error' on it besides failing its query, and the pool listens only
  // while a client is idle. The caller gets the query's error; the pool drops the client on release.
  pool.on("acquire", (client) => {
    if (!client.listeners("error").includes(ignoreLostConnection)) client.on("error", ignoreLostConnection);
  });
  return pool;
}

function ignoreLostConnection(): void {}
