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

export function createPool(url: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "payrecon",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A statement that runs this long is stuck: fail it rather than wedge a partition.
    statement_timeout: 60_000,
  });
  // An idle client that loses its connection (database restart) must not crash the process.
  pool.on("error", () => {});
  return pool;
}
