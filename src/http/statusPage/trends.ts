import { currencyExponent, isCurrency, toMajorUnits } from "../../messages/currencies.js";
import { formatAmount } from "../../messages/display.js";
import { FAILURE_CATEGORIES, type FailureCategory, RETRY_ADVICE } from "../../reconcile/failureCodes.js";
import { type Html, html } from "./html.js";
import { AT_RISK_STATUSES } from "./model.js";
import { type ChartSeries, type LineChart, lineChart } from "./trendChart.js";

/**
 * The trends section: funds at risk by status, payout failures by gateway and settlement delay over a
 * window (the last 24 hours by default, or the last hour to watch an incident unfold), from the rows of
 * src/db/queries/trends.ts. Pure: rows and `now` in, charts out.
 */

export const TREND_WINDOWS = {
  "24h": { label: "last 24 h", seconds: 86_400, stepSeconds: 3_600, per: "per hour" },
  "1h": { label: "last hour", seconds: 3_600, stepSeconds: 60, per: "per minute" },
} as const;
export type TrendWindow = keyof typeof TREND_WINDOWS;
export const DEFAULT_TREND_WINDOW: TrendWindow = "24h";

export function isTrendWindow(value: unknown): value is TrendWindow {
  return typeof value === "string" && Object.hasOwn(TREND_WINDOWS, value);
}

export interface TrendRange {
  window: TrendWindow;
  /** Start of the first bucket and end of the last (the current, partial one): whole steps. */
  from: Date;
  to: Date;
  stepSeconds: number;
  /** Where funds at risk is sampled: each bucket start, and now. */
  instants: Date[];
}

export function trendRange(window: TrendWindow, now: Date): TrendRange {
  const { seconds, stepSeconds } = TREND_WINDOWS[window];
  const step = stepSeconds * 1000;
  const to = Math.ceil(now.getTime() / step) * step;
  const from = to - seconds * 1000;
  const instants: Date[] = [];
  for (let t = from; t < now.getTime(); t += step) instants.push(new Date(t));
  instants.push(now);
  return { window, from: new Date(from), to: new Date(to), stepSeconds, instants };
}

export interface TrendRows {
  funds: Array<{ at: Date; status: string; currency: string; count: number; at_risk_minor: number }>;
  failures: Array<{ bucket: Date; gateway: string; failures: number }>;
  delay: Array<{ bucket: Date; settled: number; median_seconds: number; p90_seconds: number }>;
  categories: Array<{ direction: string; category: string; count: number }>;
}

export interface Trends {
  range: TrendRange;
  now: Date;
  charts: LineChart[];
  /** Failures in the window whose cause is data to fix before a retry (CONTRACT §2 retry_advice after_fix). */
  fixFirst: Array<{ direction: string; category: string; count: number }>;
}

/** From this many failures of one such category in the window, the Attention list names it. */
export const FIX_FIRST_FLAG = 10;

const STATUS_COLORS: Record<string, string> = {
  failed: "#d92d20",
  held: "#f79009",
  delayed: "#7a5af8",
  mismatch: "#2e90fa",
};
const PALETTE = ["#1570ef", "#d92d20", "#039855", "#f79009", "#7a5af8", "#667085"];
/** Funds at risk is drawn for this many currencies at most (those with the most payments at risk first). */
const MAX_CURRENCIES = 4;

const integer = (value: number) => Math.round(value).toLocaleString("en-US");

function fundsCharts(rows: TrendRows["funds"], range: TrendRange): LineChart[] {
  const byCurrency = new Map<string, TrendRows["funds"]>();
  for (const row of rows) byCurrency.set(row.currency, [...(byCurrency.get(row.currency) ?? []), row]);
  const weight = (currency: string) => Math.max(...byCurrency.get(currency)!.map((row) => row.count));
  const currencies = [...byCurrency.keys()]
    .sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))
    .slice(0, MAX_CURRENCIES);
  if (currencies.length === 0) currencies.push("EUR");
  return currencies.sort().map((currency) => {
    const own = byCurrency.get(currency) ?? [];
    // A status absent at an instant is zero there: each series has a point at every instant.
    const series: ChartSeries[] = AT_RISK_STATUSES.filter((status) => own.some((row) => row.status === status)).map(
      (status) => ({
        name: status,
        color: STATUS_COLORS[status]!,
        points: range.instants.map((at) => {
          const row = own.find((r) => r.status === status && r.at.getTime() === at.getTime());
          return { at: at.getTime(), value: row ? major(row.at_risk_minor, currency) : 0 };
        }),
      }),
    );
    return {
      id: `trend-funds-${currency.toLowerCase()}`,
      title: `Funds at risk by status, ${currency}`,
      unit: currency,
      from: range.from.getTime(),
      to: range.to.getTime(),
      series,
      formatValue: (value: number) => majorText(value, currency),
    };
  });
}

function major(amountMinor: number, currency: string): number {
  return isCurrency(currency) ? toMajorUnits(amountMinor, currency) : amountMinor;
}

/** A major-unit value (an axis tick or a point) with the currency's decimals and thousands grouped. */
export function majorText(value: number, currency: string): string {
  if (!isCurrency(currency)) return integer(value);
  const exponent = currencyExponent(currency);
  return formatAmount(Math.round(value * 10 ** exponent), currency);
}

function failuresChart(rows: TrendRows["failures"], range: TrendRange): LineChart {
  const gateways = [...new Set(rows.map((row) => row.gateway))].sort();
  const buckets = bucketStarts(range);
  const per = TREND_WINDOWS[range.window].per;
  return {
    id: "trend-payout-failures",
    title: "Payout failures by gateway",
    unit: `failures ${per}`,
    from: range.from.getTime(),
    to: range.to.getTime(),
    series: gateways.map((gateway, i) => ({
      name: gateway,
      color: PALETTE[i % PALETTE.length]!,
      points: buckets.map((at) => ({
        at,
        // Summed: gateways past the label bound share `other`.
        value: rows
          .filter((row) => row.gateway === gateway && row.bucket.getTime() === at)
          .reduce((sum, row) => sum + row.failures, 0),
      })),
    })),
    formatValue: integer,
  };
}

function delayChart(rows: TrendRows["delay"], range: TrendRange): LineChart {
  const longest = Math.max(0, ...rows.map((row) => row.p90_seconds));
  // Hours once a delay reaches two of them; minutes for the quick settlements of a test or demo.
  const [unit, divisor] = longest >= 7_200 ? ["hours", 3_600] : ["minutes", 60];
  const point = (row: TrendRows["delay"][number], seconds: number) => ({
    at: row.bucket.getTime(),
    value: seconds / divisor,
  });
  return {
    id: "trend-settlement-delay",
    title: "Settlement delay, accepted by the gateway to settled",
    unit,
    from: range.from.getTime(),
    to: range.to.getTime(),
    series: [
      { name: "median", color: "#1570ef", points: rows.map((row) => point(row, row.median_seconds)) },
      { name: "90th percentile", color: "#f79009", points: rows.map((row) => point(row, row.p90_seconds)) },
    ].filter((series) => series.points.length > 0),
    formatValue: (value: number) => (value >= 10 ? value.toFixed(0) : value.toFixed(1)),
  };
}

function bucketStarts(range: TrendRange): number[] {
  const out: number[] = [];
  for (let t = range.from.getTime(); t < range.to.getTime(); t += range.stepSeconds * 1000) out.push(t);
  return out;
}

function isFailureCategory(value: string): value is FailureCategory {
  return (FAILURE_CATEGORIES as readonly string[]).includes(value);
}

export function trends(rows: TrendRows, range: TrendRange, now: Date): Trends {
  return {
    range,
    now,
    charts: [...fundsCharts(rows.funds, range), failuresChart(rows.failures, range), delayChart(rows.delay, range)],
    fixFirst: rows.categories.filter(
      (row) =>
        row.count >= FIX_FIRST_FLAG && isFailureCategory(row.category) && RETRY_ADVICE[row.category] === "after_fix",
    ),
  };
}

export function trendsSection(data: Trends | undefined): Html {
  if (!data) return html``;
  const current = data.range.window;
  const choices = (Object.keys(TREND_WINDOWS) as TrendWindow[]).map((window) =>
    window === current
      ? html`<strong>${TREND_WINDOWS[window].label}</strong>`
      : html`<a href="/?window=${window}#trends">${TREND_WINDOWS[window].label}</a>`,
  );
  return html`<section id="trends"><h2>Trends <span class="muted">(${TREND_WINDOWS[current].label})</span></h2>
<p class="note windows">Rebuilt from payrecon's own history of status changes, in UTC. Show:${choices}</p>
<div class="grid">${data.charts.map((chart) => html`<div>${lineChart(chart)}</div>`)}</div>
</section>`;
}
