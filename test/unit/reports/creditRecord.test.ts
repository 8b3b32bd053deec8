import { describe, expect, it } from "vitest";
import { type CreditWindow, riskBand } from "../../../src/reports/creditRecord.js";

/** The risk band's documented rule, edge by edge. */

const window = (days: number, fields: Partial<CreditWindow>): CreditWindow => ({
  days,
  due: 10,
  on_time: 10,
  on_time_rate: 1,
  late: 0,
  average_days_late: null,
  max_days_delayed: 0,
  failed: 0,
  failure_rate: 0,
  failures_by_category: [],
  open_by_currency: [],
  ...fields,
});
const band = (w90: Partial<CreditWindow>, broken = 0, w365: Partial<CreditWindow> = {}) =>
  riskBand([window(30, {}), window(90, w90), window(365, w365)], broken).band;

describe("risk band", () => {
  it("is A for on-time, failure-free payers and falls through B, C and D at the documented edges", () => {
    expect(band({})).toBe("A");
    expect(band({ on_time_rate: 0.95 })).toBe("A");
    expect(band({ on_time_rate: 0.94 })).toBe("B");
    expect(band({ failure_rate: 0.02 })).toBe("B");
    expect(band({ average_days_late: 3.5 })).toBe("B");
    expect(band({ on_time_rate: 0.74 })).toBe("C");
    expect(band({ failure_rate: 0.1 })).toBe("C");
    expect(band({ average_days_late: 15 })).toBe("C");
    expect(band({ on_time_rate: 0.49 })).toBe("D");
    expect(band({ failure_rate: 0.2 })).toBe("D");
    expect(band({ max_days_delayed: 31 })).toBe("D");
    expect(band({}, 1)).toBe("D");
  });

  it("reads the 365-day window when fewer than 3 came due in 90 days, and calls too little history B", () => {
    expect(band({ due: 2, on_time_rate: 0 }, 0, { on_time_rate: 1 })).toBe("A");
    expect(band({ due: 2 }, 0, { due: 2 })).toBe("B");
    expect(riskBand([window(30, {}), window(90, { due: 0 }), window(365, { due: 0 })], 0).reasons).toEqual([
      "0 payment(s) due in 365 days: too little history",
    ]);
  });
});
