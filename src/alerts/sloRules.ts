import { monitoringConfig } from "./config.js";
import { alert, num, percent, promql, sel } from "./promql.js";
import type { Duration, RuleGroup, Severity } from "./types.js";

/**
 * Payout success SLO: of the payouts that reach an outcome, the share that settles
 * rather than fails (outcome="settled" / outcome=~"settled|failed", direction="payout").
 * Alerting follows the multi-window, multi-burn-rate scheme of the Google SRE workbook
 * ("Alerting on SLOs", table 5-8): a long window proves the burn is significant, a short
 * one that it is still happening, so the alert resolves soon after recovery.
 */
export interface BurnWindow {
  long: Duration;
  short: Duration;
  /** Burn rate: how many times faster than "exactly spend the budget over the period". */
  factor: number;
  severity: Extract<Severity, "critical" | "warning">;
  for: Duration;
}

export const payoutBurnWindows: readonly BurnWindow[] = [
  { long: "1h", short: "5m", factor: 14.4, severity: "critical", for: "2m" },
  { long: "6h", short: "30m", factor: 6, severity: "critical", for: "15m" },
  { long: "1d", short: "2h", factor: 3, severity: "warning", for: "1h" },
  { long: "3d", short: "6h", factor: 1, severity: "warning", for: "3h" },
];

const ALERT = "PayreconPayoutErrorBudgetBurn";

export function payoutErrorRatioRecord(window: Duration): string {
  return `payrecon:payout_error_ratio:rate${window}`;
}

const payoutOutcomes = (outcome: string) => sel("payrecon_payment_outcomes_total", 'direction="payout"', outcome);

/**
 * Error ratio over one window. No outcome at all gives no sample rather than NaN (the
 * `> 0` guard on the denominator); outcomes without any failure series give 0 (the
 * `or vector(0)`), so a gateway that has never failed still plots a ratio.
 */
function errorRatioExpr(window: Duration): string {
  return promql`
    (
      sum(rate(${payoutOutcomes('outcome="failed"')}[${window}]))
      or vector(0)
    )
    /
    (
      sum(rate(${payoutOutcomes('outcome=~"settled|failed"')}[${window}])) > 0
    )
  `;
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 } as const;

function seconds(d: Duration): number {
  return Number.parseFloat(d) * UNIT_SECONDS[d.slice(-1) as keyof typeof UNIT_SECONDS];
}

export function sloWindows(): Duration[] {
  const windows = new Set<Duration>();
  for (const w of payoutBurnWindows) {
    windows.add(w.short);
    windows.add(w.long);
  }
  windows.add(monitoringConfig.payoutSlo.period);
  return [...windows].sort((a, b) => seconds(a) - seconds(b));
}

function burnAlert(w: BurnWindow) {
  const { objective, periodDays, minOutcomes } = monitoringConfig.payoutSlo;
  const budget = 1 - objective;
  const threshold = num(w.factor * budget);
  const hoursToExhaust = Math.round((periodDays * 24) / w.factor);
  return alert({
    alert: ALERT,
    expr: promql`
      ${payoutErrorRatioRecord(w.long)} > ${threshold}
      and
      ${payoutErrorRatioRecord(w.short)} > ${threshold}
      and on ()
      sum(increase(${payoutOutcomes('outcome=~"settled|failed"')}[${w.long}])) >= ${minOutcomes}
    `,
    for: w.for,
    severity: w.severity,
    labels: { long: w.long, short: w.short },
    summary: "Payouts are failing fast enough to exhaust the payout success error budget.",
    description:
      `{{ $value | humanizePercentage }} of payouts that reached an outcome in the last ${w.long} failed ` +
      `(the last ${w.short} agrees). The ${percent(objective)} payout success SLO allows ${percent(budget)}; ` +
      `this burns the ${monitoringConfig.payoutSlo.period} error budget at over ${num(w.factor)}x, ` +
      `which would exhaust it in about ${hoursToExhaust}h.`,
  });
}

// Recording rules and the alerts reading them share a group: rules in a group run in
// order, so an alert always sees the ratio of the same evaluation, never the previous one.
export const sloGroup: RuleGroup = {
  name: "payrecon-slo",
  rules: [
    ...sloWindows().map((w) => ({ record: payoutErrorRatioRecord(w), expr: errorRatioExpr(w) })),
    ...payoutBurnWindows.map(burnAlert),
  ],
};
