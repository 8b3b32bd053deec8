import { calendarDate, timestamp } from "../messages/schemas.js";

/**
 * The period of a report: payments whose `created_at` is in [from, to).
 * Each bound is a date (`2026-11-01`, midnight UTC) or an RFC 3339 time with
 * offset. `to` is exclusive, so `--from 2026-11-01 --to 2026-12-01` is
 * November. `to` defaults to now, `from` to 30 days before `to`.
 */

export interface Period {
  from: Date;
  to: Date;
}

export const DEFAULT_PERIOD_DAYS = 30;
const DAY_MS = 86_400_000;

export class PeriodError extends Error {
  override name = "PeriodError";
}

/** An instant from a date (midnight UTC) or an RFC 3339 time; undefined when it is neither. */
export function parseBound(text: string): Date | undefined {
  if (calendarDate.safeParse(text).success) return new Date(`${text}T00:00:00Z`);
  if (timestamp.safeParse(text).success) return new Date(text);
  return undefined;
}

/** Resolves the optional bounds against `now`; throws PeriodError naming the bad bound. */
export function resolvePeriod(bounds: { from?: string; to?: string }, now: Date): Period {
  const parse = (name: "from" | "to") => {
    const text = bounds[name];
    if (text === undefined) return undefined;
    const instant = parseBound(text);
    if (!instant) throw new PeriodError(`${name}: must be a date YYYY-MM-DD or an RFC 3339 time, got "${text}"`);
    return instant;
  };
  const from = parse("from");
  const to = parse("to");
  const end = to ?? now;
  const start = from ?? new Date(end.getTime() - DEFAULT_PERIOD_DAYS * DAY_MS);
  if (start.getTime() >= end.getTime()) throw new PeriodError("from: must be before to (to is exclusive)");
  return { from: start, to: end };
}
