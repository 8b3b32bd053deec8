import { formatInstant } from "../../messages/display.js";
import { type Html, html } from "./html.js";

/**
 * Line charts drawn on the server as SVG: no script, no external asset (the page's CSP allows neither).
 * Pure: a chart is a function of its series and its time window. Time runs left to right in UTC, values
 * start at zero; every point carries its value in a <title> (a tooltip, and text for screen readers), and
 * the chart's <title>/<desc> say what it shows and the latest values, so it reads without the picture.
 */

export interface ChartPoint {
  /** Epoch milliseconds. */
  at: number;
  value: number;
}

export interface ChartSeries {
  name: string;
  color: string;
  points: ChartPoint[];
}

export interface LineChart {
  id: string;
  title: string;
  /** The unit of the y axis, as a person reads it: "EUR", "failures per hour", "hours". */
  unit: string;
  /** The time window shown (epoch ms). */
  from: number;
  to: number;
  series: ChartSeries[];
  /** A value as a person reads it, in the unit (amounts in major units with the currency's decimals). */
  formatValue: (value: number) => string;
}

export const CHART_WIDTH = 560;
export const CHART_HEIGHT = 220;
const MARGIN = { top: 20, right: 16, bottom: 34, left: 72 };

/** Drops binary noise from a product of decimals (3 × 0.1 = 0.30000000000000004 → 0.3). */
const clean = (n: number) => Number(n.toPrecision(12));

/** A round upper bound and step for the y axis: 0…max in about `ticks` steps of 1, 2 or 5 × 10^n. */
export function niceScale(max: number, ticks = 4): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.25 };
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  return { max: clean(Math.ceil(max / step - 1e-9) * step), step: clean(step) };
}

/** Time ticks on whole hours (or minutes for short windows), labelled HH:MM UTC. */
export function timeTicks(from: number, to: number, target = 6): number[] {
  const span = Math.max(1, to - from);
  const steps = [60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000];
  const step = steps.find((candidate) => span / candidate <= target) ?? 43_200_000;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

function hhmm(at: number): string {
  return new Date(at).toISOString().slice(11, 16);
}

const round = (n: number) => Math.round(n * 10) / 10;

export function lineChart(chart: LineChart): Html {
  const plotWidth = CHART_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const points = chart.series.flatMap((s) => s.points);
  const y = niceScale(Math.max(0, ...points.map((p) => p.value)));
  const span = Math.max(1, chart.to - chart.from);
  const px = (at: number) => round(MARGIN.left + ((at - chart.from) / span) * plotWidth);
  const py = (value: number) => round(MARGIN.top + plotHeight - (Math.max(0, value) / y.max) * plotHeight);
  const titleId = `${chart.id}-title`;
  const descId = `${chart.id}-desc`;

  const yTicks: number[] = [];
  for (let i = 0; i * y.step <= y.max + y.step / 1e6; i++) yTicks.push(clean(i * y.step));
  const grid = yTicks.map(
    (v) =>
      html`<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${py(v)}" y2="${py(v)}" stroke="#e4e7ec"/><text class="y-label" x="${MARGIN.left - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11" fill="#475467">${chart.formatValue(v)}</text>`,
  );
  const xTicks = timeTicks(chart.from, chart.to).map(
    (t) =>
      html`<line x1="${px(t)}" x2="${px(t)}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 4}" stroke="#98a2b3"/><text class="x-label" x="${px(t)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle" font-size="11" fill="#475467">${hhmm(t)}</text>`,
  );
  const lines = chart.series.map((series) => {
    const sorted = [...series.points].sort((a, b) => a.at - b.at);
    const path = sorted.map((p) => `${px(p.at)},${py(p.value)}`).join(" ");
    return html`<g class="series" data-series="${series.name}">${
      sorted.length > 1 ? html`<polyline fill="none" stroke="${series.color}" stroke-width="2" points="${path}"/>` : ""
    }${sorted.map(
      (p) =>
        html`<circle class="point" cx="${px(p.at)}" cy="${py(p.value)}" r="${sorted.length > 1 ? 2.5 : 4}" fill="${series.color}" data-value="${p.value}"><title>${series.name} at ${formatInstant(p.at)}: ${chart.formatValue(p.value)} ${chart.unit}</title></circle>`,
    )}</g>`;
  });
  const empty = points.length === 0;
  const summary = empty
    ? `No data from ${formatInstant(chart.from)} to ${formatInstant(chart.to)}.`
    : chart.series
        .filter((s) => s.points.length > 0)
        .map((s) => {
          const latest = s.points.reduce((a, b) => (b.at > a.at ? b : a));
          const peak = s.points.reduce((a, b) => (b.value > a.value ? b : a));
          return `${s.name}: latest ${chart.formatValue(latest.value)}, highest ${chart.formatValue(peak.value)} at ${formatInstant(peak.at)}`;
        })
        .join("; ");
  const legend = chart.series.map(
    (s) => html`<span class="legend-item"><span class="swatch" style="background:${s.color}"></span>${s.name}</span>`,
  );
  return html`<figure class="chart" id="${chart.id}">
<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="${titleId} ${descId}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif">
<title id="${titleId}">${chart.title} (${chart.unit}), ${formatInstant(chart.from)} to ${formatInstant(chart.to)}</title>
<desc id="${descId}">${summary}</desc>
${grid}
<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#98a2b3"/>
<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="#98a2b3"/>
${xTicks}
<text class="unit" x="4" y="${MARGIN.top - 2}" text-anchor="start" font-size="11" fill="#344054">${chart.unit}</text>
<text x="${MARGIN.left + plotWidth}" y="${CHART_HEIGHT - 4}" text-anchor="end" font-size="11" fill="#667085">time (UTC)</text>
${empty ? html`<text class="empty" x="${MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" font-size="13" fill="#667085">no data in this window</text>` : ""}
${lines}
</svg>
<figcaption><strong>${chart.title}</strong> <span class="muted">(${chart.unit})</span>${legend.length > 0 ? html` · ${legend}` : ""}<br><span class="muted chart-summary">${summary}</span></figcaption>
</figure>`;
}
