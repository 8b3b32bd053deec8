/**
 * Typed shapes of Prometheus rule files. Rules are written as TypeScript objects so
 * thresholds, windows and runbook links come from one place and a typo in a label
 * name is a compile error rather than a silent alert that never routes.
 */

/** A Prometheus duration as written in rule files (`5m`, `1h`, `3d`). */
export type Duration = `${number}${"s" | "m" | "h" | "d" | "w"}`;

/** `critical` pages on-call, `warning` opens a ticket, `none` is the dead-man's switch. */
export type Severity = "critical" | "warning" | "none";

export interface AlertAnnotations {
  /** Fixed text: Alertmanager groups notifications by it, so it must not vary per series. */
  summary: string;
  /** Go template with the values on-call needs first ($labels.gateway, $value as percent or amount). */
  description: string;
  runbook_url: string;
}

export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold before the alert fires; absent means at once. */
  for?: Duration;
  labels: { severity: Severity } & Record<string, string>;
  annotations: AlertAnnotations;
}

export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

export type Rule = AlertRule | RecordingRule;

export interface RuleGroup {
  name: string;
  interval?: Duration;
  rules: Rule[];
}

export function isAlertRule(rule: Rule): rule is AlertRule {
  return "alert" in rule;
}
