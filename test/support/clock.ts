/**
 * The run's "now", for tests whose facts reach a daemon that reads the real clock. Every date such a
 * test writes is an offset from it, so the suite means the same on any calendar day and under
 * `faketime -f +400d` (which shifts this clock and the daemon's alike). Pure-core tests pass their own
 * `now` and need none of this.
 */

const DAY_MS = 86_400_000;

/** Read once per test file (each file is its own module graph): all its facts share one anchor. */
export const runNow = Date.now();

/** RFC 3339 instant `days` (fractional allowed, negative = past) from the run's now. */
export function isoDaysFromNow(days: number, from = runNow): string {
  return new Date(from + days * DAY_MS).toISOString();
}

/** `YYYY-MM-DD` (UTC) of the day `days` from the run's now. */
export function dateDaysFromNow(days: number, from = runNow): string {
  return isoDaysFromNow(days, from).slice(0, 10);
}

/** `YYYY-MM-DD HH:mm:ss` (as Adyen's reports write it) `days` from the run's now. */
export function reportTimeDaysFromNow(days: number, from = runNow): string {
  return isoDaysFromNow(days, from).slice(0, 19).replace("T", " ");
}

/**
 * The variables that carry a shifted clock (`faketime` preloads libfaketime and sets FAKETIME) into a
 * child process started with a minimal environment: a CLI or daemon the test spawns must see the same
 * time as the test and the database.
 */
export function clockEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && (entry[0] === "LD_PRELOAD" || entry[0].startsWith("FAKETIME")),
    ),
  );
}

/**
 * Whether this run's clock is shifted (`faketime`). Programs that read the time without libc (Go's
 * Prometheus and Alertmanager) still see the real time then, so a test that compares their clock with
 * payrecon's must compare what payrecon sent, not what they concluded from it.
 */
export const clockShifted = process.env.FAKETIME !== undefined;
