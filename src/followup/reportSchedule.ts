/**
 * REPORT_SCHEDULE (CONTRACT §9): when a period closes and its report is produced, in REPORT_TZ.
 *  - `daily@06:00`: every day at 06:00, the day before (local midnight to midnight);
 *  - `weekly@mon06:00`: every Monday at 06:00, the week before (Monday to Monday);
 *  - `monthly@1` (or `monthly@1/07:30`; 06:00 when no time is given): on the 1st, the month before.
 * Pure functions of an instant: the caller passes its clock's time.
 */

export type ScheduleKind = "daily" | "weekly" | "monthly";

export interface ReportSchedule {
  kind: ScheduleKind;
  /** As written, e.g. `weekly@mon06:00`. */
  spec: string;
  hour: number;
  minute: number;
  /** weekly: 0 = Sunday … 6 = Saturday. */
  weekday?: number;
  /** monthly: 1–31 (clamped to the month's last day). */
  day?: number;
}

export interface ClosedPeriod {
  kind: ScheduleKind;
  from: Date;
  to: Date;
  /** `2026-12-03`, `2026-11-23..2026-11-30`, `2026-11`. */
  label: string;
  /** When the schedule produced (or produces) it. */
  due: Date;
}

const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

export function parseReportSchedule(spec: string): ReportSchedule | undefined {
  const time = (hh: string, mm: string) => {
    const hour = Number(hh);
    const minute = Number(mm);
    return hour < 24 && minute < 60 ? { hour, minute } : undefined;
  };
  let match = /^daily@(\d{2}):(\d{2})$/.exec(spec);
  if (match) {
    const t = time(match[1]!, match[2]!);
    return t && { kind: "daily", spec, ...t };
  }
  match = /^weekly@(sun|mon|tue|wed|thu|fri|sat)(\d{2}):(\d{2})$/.exec(spec);
  if (match) {
    const t = time(match[2]!, match[3]!);
    return t && { kind: "weekly", spec, weekday: WEEKDAYS.indexOf(match[1]!), ...t };
  }
  match = /^monthly@(\d{1,2})(?:\/(\d{2}):(\d{2}))?$/.exec(spec);
  if (match) {
    const day = Number(match[1]);
    const t = time(match[2] ?? "06", match[3] ?? "00");
    return t && day >= 1 && day <= 31 ? { kind: "monthly", spec, day, ...t } : undefined;
  }
  return undefined;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

interface LocalDate {
  year: number;
  /** 0-based, as Date.UTC takes it. */
  month: number;
  day: number;
}

/** The wall-clock fields of an instant in a zone. */
function wallClock(at: number, tz: string) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  return {
    year: get("year"),
    month: get("month") - 1,
    day: get("day"),
    hour: get("hour"),
    minute: get("minute"),
    second: get("second"),
  };
}

function offsetMs(at: number, tz: string): number {
  const w = wallClock(at, tz);
  return Date.UTC(w.year, w.month, w.day, w.hour, w.minute, w.second) - Math.floor(at / 1000) * 1000;
}

/** The instant a wall-clock time in the zone names (day and month may overflow, as in Date.UTC). */
export function zonedInstant(date: LocalDate, hour: number, minute: number, tz: string): Date {
  const wall = Date.UTC(date.year, date.month, date.day, hour, minute);
  const first = wall - offsetMs(wall, tz);
  // Once more at the guess: the offset there is the one that applies across a DST change.
  return new Date(wall - offsetMs(first, tz));
}

function localDate(at: Date, tz: string): LocalDate {
  const w = wallClock(at.getTime(), tz);
  return { year: w.year, month: w.month, day: w.day };
}

function plusDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate() };
}

const iso = (date: LocalDate) => new Date(Date.UTC(date.year, date.month, date.day)).toISOString().slice(0, 10);
const midnight = (date: LocalDate, tz: string) => zonedInstant(date, 0, 0, tz);

function dayPeriod(kind: ScheduleKind, start: LocalDate, end: LocalDate, tz: string, due: Date, label: string) {
  return { kind, from: midnight(start, tz), to: midnight(end, tz), label, due };
}

/** The latest period of this schedule that has closed and come due at `now`. */
export function latestClosedPeriod(schedule: ReportSchedule, now: Date, tz: string): ClosedPeriod {
  let date = localDate(now, tz);
  if (schedule.kind === "daily") {
    if (zonedInstant(date, schedule.hour, schedule.minute, tz) > now) date = plusDays(date, -1);
    const start = plusDays(date, -1);
    return dayPeriod("daily", start, date, tz, zonedInstant(date, schedule.hour, schedule.minute, tz), iso(start));
  }
  if (schedule.kind === "weekly") {
    for (let back = 0; back < 8; back++) {
      const candidate = plusDays(date, -back);
      const weekday = new Date(Date.UTC(candidate.year, candidate.month, candidate.day)).getUTCDay();
      const due = zonedInstant(candidate, schedule.hour, schedule.minute, tz);
      if (weekday === schedule.weekday && due <= now) {
        const start = plusDays(candidate, -7);
        return dayPeriod("weekly", start, candidate, tz, due, `${iso(start)}..${iso(candidate)}`);
      }
    }
    throw new Error("unreachable: a weekday recurs within 8 days");
  }
  const dueIn = (year: number, month: number) => {
    const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    return zonedInstant({ year, month, day: Math.min(schedule.day!, last) }, schedule.hour, schedule.minute, tz);
  };
  let year = date.year;
  let month = date.month;
  if (dueIn(year, month) > now) {
    month -= 1;
    if (month < 0) {
      month = 11;
      year -= 1;
    }
  }
  const start = { year: month === 0 ? year - 1 : year, month: month === 0 ? 11 : month - 1, day: 1 };
  return {
    kind: "monthly",
    from: midnight(start, tz),
    to: midnight({ year, month, day: 1 }, tz),
    label: iso(start).slice(0, 7),
    due: dueIn(year, month),
  };
}

export type NamedPeriod = "yesterday" | "last-week" | "last-month";
export const NAMED_PERIODS: readonly NamedPeriod[] = ["yesterday", "last-week", "last-month"];

/** `payrecon report --period`: the closed day, ISO week (Monday to Monday) or month before `now`, in the zone. */
export function namedPeriod(name: NamedPeriod, now: Date, tz: string): { from: Date; to: Date; label: string } {
  const today = localDate(now, tz);
  if (name === "yesterday") {
    const start = plusDays(today, -1);
    return { from: midnight(start, tz), to: midnight(today, tz), label: iso(start) };
  }
  if (name === "last-week") {
    const weekday = new Date(Date.UTC(today.year, today.month, today.day)).getUTCDay();
    const monday = plusDays(today, -((weekday + 6) % 7));
    const start = plusDays(monday, -7);
    return { from: midnight(start, tz), to: midnight(monday, tz), label: `${iso(start)}..${iso(monday)}` };
  }
  const first = { year: today.year, month: today.month, day: 1 };
  const start = { year: today.month === 0 ? today.year - 1 : today.year, month: (today.month + 11) % 12, day: 1 };
  return { from: midnight(start, tz), to: midnight(first, tz), label: iso(start).slice(0, 7) };
}
