import { describe, expect, it } from "vitest";
import { lineChart, niceScale, timeTicks } from "../../../src/http/statusPage/trendChart.js";
import { majorText, trendRange, trends } from "../../../src/http/statusPage/trends.js";

const HOUR = 3_600_000;
const from = Date.parse("2026-12-01T00:00:00Z");
const to = from + 24 * HOUR;

function chart(points: Array<{ at: number; value: number }>, currency = "EUR") {
  return lineChart({
    id: "c",
    title: "Funds at risk",
    unit: currency,
    from,
    to,
    series: [{ name: "failed", color: "#d92d20", points }],
    formatValue: (v) => majorText(v, currency),
  }).text;
}

const attr = (svg: string, name: string) =>
  [...svg.matchAll(new RegExp(`${name}="([\\d.]+)"`, "g"))].map((m) => Number(m[1]));

describe("trend charts (SVG, server-side)", () => {
  it("scales the y axis to a round maximum in steps of 1, 2, 2.5 or 5 × 10^n, from zero", () => {
    expect(niceScale(9_873)).toEqual({ max: 10_000, step: 2_500 });
    expect(niceScale(3)).toEqual({ max: 3, step: 1 });
    expect(niceScale(0.3)).toEqual({ max: 0.3, step: 0.1 });
    expect(niceScale(0)).toEqual({ max: 1, step: 0.25 });
  });

  it("maps time left to right and values bottom to top inside the plot", () => {
    const svg = chart([
      { at: from, value: 0 },
      { at: from + 12 * HOUR, value: 50 },
      { at: to, value: 100 },
    ]);
    const cx = attr(svg, "cx");
    const cy = attr(svg, "cy");
    expect(cx[1]! - cx[0]!).toBeCloseTo(cx[2]! - cx[1]!, 0);
    expect(cy[0]).toBeGreaterThan(cy[1]!);
    expect(cy[1]).toBeGreaterThan(cy[2]!);
    expect(svg).toContain("<polyline");
    // x ticks on whole hours, UTC
    expect(timeTicks(from, to).map((t) => new Date(t).toISOString().slice(11, 16))).toEqual([
      "00:00",
      "06:00",
      "12:00",
      "18:00",
      "00:00",
    ]);
  });

  it("draws axes and says 'no data' for an empty window, with a text alternative", () => {
    const svg = chart([]);
    expect(svg).toContain("no data in this window");
    expect(svg).not.toContain('class="point"');
    expect(svg).toMatch(
      /<title id="c-title">Funds at risk \(EUR\), 2026-12-01 00:00:00 UTC to 2026-12-02 00:00:00 UTC<\/title>/,
    );
    expect(svg).toContain('<desc id="c-desc">No data from 2026-12-01 00:00:00 UTC');
    expect(svg).toContain('aria-labelledby="c-title c-desc"');
  });

  it("shows a single point as a visible dot (no line can be drawn through one point)", () => {
    const svg = chart([{ at: from + 6 * HOUR, value: 1_234.5 }]);
    expect(svg).not.toContain("<polyline");
    expect(svg.match(/class="point"/g)).toHaveLength(1);
    expect(svg).toContain('r="4"');
    expect(svg).toContain("<title>failed at 2026-12-01 06:00:00 UTC: 1,234.50 EUR</title>");
  });

  it("labels axes and points in major units with the currency's decimals", () => {
    const eur = chart([{ at: from, value: 29_906.99 }]);
    expect(eur).toContain(">30,000.00</text>");
    expect(eur).toContain("29,906.99 EUR");
    expect(eur).not.toMatch(/29906\.98999/);
    const jpy = chart([{ at: from, value: 249_930 }], "JPY");
    expect(jpy).toContain(">300,000</text>");
    expect(jpy).toContain("249,930 JPY");
    expect(majorText(0.1, "KWD")).toBe("0.100");
  });

  it("escapes series names (a gateway's name is producer text)", () => {
    const svg = lineChart({
      id: "x",
      title: "t",
      unit: "failures per hour",
      from,
      to,
      series: [{ name: "<script>", color: "#000", points: [{ at: from, value: 1 }] }],
      formatValue: String,
    }).text;
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;");
  });
});

describe("trends model", () => {
  it("samples funds at risk at each hour of the last 24 h and at now; an absent status is zero", () => {
    const now = new Date("2026-12-01T10:20:00Z");
    const range = trendRange("24h", now);
    expect(range.from.toISOString()).toBe("2026-11-30T11:00:00.000Z");
    expect(range.to.toISOString()).toBe("2026-12-01T11:00:00.000Z");
    expect(range.instants).toHaveLength(25);
    expect(range.instants.at(-1)).toBe(now);
    const result = trends(
      {
        funds: [{ at: now, status: "held", currency: "EUR", count: 1, at_risk_minor: 4_000_000 }],
        failures: [
          // Two gateways past the label bound, both `other` once bounded: one series, summed.
          { bucket: new Date("2026-12-01T09:00:00Z"), gateway: "other", failures: 2 },
          { bucket: new Date("2026-12-01T09:00:00Z"), gateway: "other", failures: 3 },
        ],
        delay: [{ bucket: new Date("2026-12-01T09:00:00Z"), settled: 4, median_seconds: 36_000, p90_seconds: 72_000 }],
        categories: [
          { direction: "payout", category: "technical", count: 50 },
          { direction: "payout", category: "account_invalid", count: 12 },
          { direction: "collection", category: "holder_mismatch", count: 9 },
        ],
      },
      range,
      now,
    );
    const funds = result.charts.find((c) => c.id === "trend-funds-eur")!;
    expect(funds.series.map((s) => s.name)).toEqual(["held"]);
    expect(funds.series[0]!.points.at(-1)).toEqual({ at: now.getTime(), value: 40_000 });
    expect(funds.series[0]!.points.slice(0, -1).every((p) => p.value === 0)).toBe(true);
    const delay = result.charts.find((c) => c.id === "trend-settlement-delay")!;
    expect(delay.unit).toBe("hours");
    expect(delay.series.map((s) => s.points[0]!.value)).toEqual([10, 20]);
    const failures = result.charts.find((c) => c.id === "trend-payout-failures")!;
    expect(failures.unit).toBe("failures per hour");
    expect(failures.series).toHaveLength(1);
    expect(failures.series[0]!.points).toHaveLength(24);
    expect(failures.series[0]!.points.find((p) => p.at === Date.parse("2026-12-01T09:00:00Z"))?.value).toBe(5);
    // Named for attention: failures whose data must be fixed before a retry, from 10 in the window.
    expect(result.fixFirst).toEqual([{ direction: "payout", category: "account_invalid", count: 12 }]);
  });
});
