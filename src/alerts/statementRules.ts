import { alert, promql, sel } from "./promql.js";
import type { RuleGroup } from "./types.js";

/**
 * CONTRACT §8 "Statements": a statement whose lines do not add up to its closing balance, or whose
 * opening differs from the previous statement's closing (a statement missing between them). Each is an
 * exception in payrecon; this alert tells someone to look at them. A series seen for the first time
 * (its first failed check since the daemon started) has no increase() yet, hence the second arm.
 */
const failedChecks = sel("payrecon_statement_checks_total", 'result=~"imbalanced|gap"');

export const statementGroup: RuleGroup = {
  name: "payrecon-statements",
  rules: [
    alert({
      alert: "PayreconStatementCheckFailed",
      expr: promql`
        sum by (bank, result) (increase(${failedChecks}[1d])) > 0
        or
        sum by (bank, result) (${failedChecks} unless ${failedChecks} offset 1d) > 0
      `,
      severity: "warning",
      summary: "A bank statement does not balance, or one is missing.",
      description:
        '{{ $value | printf "%.0f" }} {{ $labels.bank }} statement check(s) in the last day found {{ $labels.result }}: ' +
        "imbalanced means opening + lines ≠ closing (lines missing or wrong); gap means a statement between " +
        "two others is missing (closing of one ≠ opening of the next). Open statement_imbalance / statement_gap " +
        "exceptions name the statements.",
    }),
  ],
};
