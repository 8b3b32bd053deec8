import { monitoringConfig } from "./config.js";
import { alert, sel, thresholdByLabel } from "./promql.js";
import type { RuleGroup } from "./types.js";

// Gauges computed from the database are identical on every replica: `max by` keeps one
// copy instead of summing the same money twice when two daemons run.

const delayed = monitoringConfig.delayedFunds;

function delayedClause(matcher: string | undefined, threshold: number): string {
  const selector = sel("payrecon_funds_at_risk", 'status="delayed"', ...(matcher ? [matcher] : []));
  return `max by (direction, currency) (${selector}) > ${threshold}`;
}

export const fundsAlertGroup: RuleGroup = {
  name: "payrecon-funds",
  rules: [
    alert({
      alert: "PayreconFundsHeld",
      // `held` is already past HOLD_THRESHOLD or an explicit payout.held; the `for` skips
      // automatic risk reviews that a gateway releases within minutes.
      expr: `max by (direction, currency) (${sel("payrecon_funds_at_risk", 'status="held"')}) > 0`,
      for: "1h",
      severity: "warning",
      summary: "A gateway is holding funds.",
      description:
        '{{ $value | printf "%.2f" }} {{ $labels.currency }} of {{ $labels.direction }} funds have been held ' +
        "by a gateway for over an hour.",
    }),
    alert({
      alert: "PayreconDelayedFundsHigh",
      expr: thresholdByLabel("currency", delayed.byCurrency, delayed.defaultMajor, delayedClause),
      for: "30m",
      severity: "warning",
      summary: "Overdue payments add up to a large amount.",
      description:
        '{{ $value | printf "%.2f" }} {{ $labels.currency }} of {{ $labels.direction }} payments are past their ' +
        "due date without settlement, above the alert threshold for the currency.",
    }),
    alert({
      alert: "PayreconUnmatchedBankEntries",
      // The daemon counts an entry only after UNMATCHED_GRACE (24h), so any is worth a look.
      expr: `max by (bank, currency) (${sel("payrecon_unmatched_bank_entries")}) > 0`,
      for: "30m",
      severity: "warning",
      summary: "Bank entries match no expected payment.",
      description:
        "{{ $value }} {{ $labels.currency }} entries on {{ $labels.bank }} statements have matched no expected " +
        "payment or batch after the grace period.",
    }),
    alert({
      alert: "PayreconExceptionsOverdue",
      expr: `max by (kind) (${sel("payrecon_exceptions_overdue")}) > 0`,
      for: "15m",
      severity: "warning",
      summary: "Open exceptions are past their resolution deadline.",
      description: "{{ $value }} open {{ $labels.kind }} exceptions are past their resolution deadline.",
    }),
  ],
};
