import { describe, expect, it } from "vitest";
import { latestClosedPeriod, namedPeriod, parseReportSchedule } from "../../../src/followup/reportSchedule.js";

/** REPORT_SCHEDULE in REPORT_TZ: which period has closed and is due, across days, weeks, months and DST. */

const at = (iso: string) => new Date(iso);
const schedule = (spec: string) => {
  const parsed = parseReportSchedule(spec);
  if (!parsed) throw new Error(spec);
  return parsed;
};
const period = (spec: string, now: string, tz = "UTC") => {
  const p = latestClosedPeriod(schedule(spec), at(now), tz);
  return { from: p.from.toISOString(), to: p.to.toISOString(), label: p.label, due: p.due.toISOString() };
};

describe("report schedules", () => {
  it("parses the three forms and refuses others", () => {
    expect(parseReportSchedule("daily@06:00")).toMatchObject({ kind: "daily", hour: 6, minute: 0 });
    expect(parseReportSchedule("weekly@mon06:00")).toMatchObject({ kind: "weekly", weekday: 1, hour: 6 });
    expect(parseReportSchedule("monthly@1")).toMatchObject({ kind: "monthly", day: 1, hour: 6, minute: 0 });
    expect(parseReportSchedule("monthly@31/23:59")).toMatchObject({ day: 31, hour: 23, minute: 59 });
    for (const bad of ["daily@6:00", "daily@24:00", "weekly@monday06:00", "monthly@0", "monthly@32", "yearly@1"]) {
      expect(parseReportSchedule(bad), bad).toBeUndefined();
    }
  });

  it("daily: the day before, once 06:00 has passed", () => {
    expect(period("daily@06:00", "2026-12-04T06:30:00Z")).toEqual({
      from: "2026-12-03T00:00:00.000Z",
      to: "2026-12-04T00:00:00.000Z",
      label: "2026-12-03",
      due: "2026-12-04T06:00:00.000Z",
    });
    expect(period("daily@06:00", "2026-12-04T05:59:00Z").label).toBe("2026-12-02");
  });

  it("daily in Europe/Berlin: local midnights, 23 and 25 hour days at the DST changes", () => {
    expect(period("daily@06:00", "2026-12-04T05:30:00Z", "Europe/Berlin")).toMatchObject({
      from: "2026-12-02T23:00:00.000Z",
      to: "2026-12-03T23:00:00.000Z",
      due: "2026-12-04T05:00:00.000Z",
    });
    // 2026-03-29 springs forward: the day is 23 hours.
    const spring = latestClosedPeriod(schedule("daily@06:00"), at("2026-03-30T12:00:00Z"), "Europe/Berlin");
    expect(spring.label).toBe("2026-03-29");
    expect(spring.to.getTime() - spring.from.getTime()).toBe(23 * 3_600_000);
    // 2026-10-25 falls back: 25 hours.
    const autumn = latestClosedPeriod(schedule("daily@06:00"), at("2026-10-26T12:00:00Z"), "Europe/Berlin");
    expect(autumn.to.getTime() - autumn.from.getTime()).toBe(25 * 3_600_000);
  });

  it("weekly: Monday to Monday, due on Monday at the time given", () => {
    // 2026-12-07 is a Monday.
    expect(period("weekly@mon06:00", "2026-12-09T12:00:00Z")).toMatchObject({
      from: "2026-11-30T00:00:00.000Z",
      to: "2026-12-07T00:00:00.000Z",
      label: "2026-11-30..2026-12-07",
    });
    expect(period("weekly@mon06:00", "2026-12-07T05:00:00Z").label).toBe("2026-11-23..2026-11-30");
  });

  it("monthly: the month before, from the day given (clamped to short months)", () => {
    expect(period("monthly@1", "2026-12-01T06:00:00Z")).toMatchObject({
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
      label: "2026-11",
    });
    expect(period("monthly@1", "2026-12-01T05:00:00Z").label).toBe("2026-10");
    expect(period("monthly@1", "2026-01-15T00:00:00Z").label).toBe("2025-12");
    expect(period("monthly@31", "2027-02-28T07:00:00Z")).toMatchObject({
      label: "2027-01",
      due: "2027-02-28T06:00:00.000Z",
    });
  });

  it("names yesterday, last week and last month for payrecon report --period", () => {
    const now = at("2026-12-09T12:00:00Z");
    expect(namedPeriod("yesterday", now, "UTC")).toEqual({
      from: at("2026-12-08T00:00:00Z"),
      to: at("2026-12-09T00:00:00Z"),
      label: "2026-12-08",
    });
    expect(namedPeriod("last-week", now, "UTC").label).toBe("2026-11-30..2026-12-07");
    expect(namedPeriod("last-month", at("2026-01-05T00:00:00Z"), "UTC").label).toBe("2025-12");
    expect(namedPeriod("yesterday", now, "America/New_York").from).toEqual(at("2026-12-08T05:00:00Z"));
  });
});
