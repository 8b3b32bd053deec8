import { dashboardSpecs } from "../../dashboards/src/specs.js";
import { ruleGroups } from "../../src/alerts/rules.js";
import { isAlertRule } from "../../src/alerts/types.js";

export interface MonitoringExpression {
  /** `rules/<group>/<alert or record>` or `dashboard/<uid>/<panel title>/<refId>`. */
  source: string;
  expr: string;
}

/**
 * Values substituted for Grafana variables so dashboard queries run as plain PromQL
 * (in Grafana, $__rate_interval is at least four scrape intervals; 5m is safe for 15s).
 */
export const grafanaVariableDefaults: Readonly<Record<string, string>> = {
  __rate_interval: "5m",
  gateway: "stripe",
  direction: ".*",
  currency: ".*",
};

/** Replaces `$name` and `${name}` Grafana variables; unknown variables are left as they are. */
export function substituteGrafanaVariables(
  expr: string,
  values: Readonly<Record<string, string>> = grafanaVariableDefaults,
): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => values[name] ?? whole);
}

function ruleExpressions(): MonitoringExpression[] {
  const out: MonitoringExpression[] = [];
  for (const group of ruleGroups) {
    const seen = new Map<string, number>();
    for (const rule of group.rules) {
      const name = isAlertRule(rule) ? rule.alert : rule.record;
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      // The burn-rate alert has one rule per window pair under the same name.
      const suffix = isAlertRule(rule) && rule.labels.long ? `[${rule.labels.long}/${rule.labels.short}]` : "";
      out.push({ source: `rules/${group.name}/${name}${suffix || (n > 1 ? `#${n}` : "")}`, expr: rule.expr });
    }
  }
  return out;
}

function dashboardExpressions(substitute: boolean): MonitoringExpression[] {
  const out: MonitoringExpression[] = [];
  const fix = (expr: string) => (substitute ? substituteGrafanaVariables(expr) : expr);
  for (const d of dashboardSpecs) {
    // label_values() is Grafana syntax; its selector is the PromQL part.
    for (const v of d.variables) out.push({ source: `dashboard/${d.uid}/$${v.name}`, expr: v.sourceSelector });
    for (const row of d.rows) {
      for (const panel of row.panels) {
        panel.queries.forEach((q, i) => {
          out.push({ source: `dashboard/${d.uid}/${panel.title}/${String.fromCharCode(65 + i)}`, expr: fix(q.expr) });
        });
      }
    }
  }
  return out;
}

/**
 * Every PromQL expression in payrecon's alert and recording rules and dashboards.
 * Dashboard queries come with Grafana variables replaced by grafanaVariableDefaults,
 * so each can be sent as-is to a Prometheus scraping the daemon; pass
 * `{ substituteVariables: false }` for the queries exactly as Grafana sees them.
 * Recording-rule names (`payrecon:…`, `gateway:…`) only return data where the rules
 * in deploy/prometheus/rules are loaded.
 */
export function allMonitoringExpressions(options: { substituteVariables?: boolean } = {}): MonitoringExpression[] {
  return [...ruleExpressions(), ...dashboardExpressions(options.substituteVariables ?? true)];
}
