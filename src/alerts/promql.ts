import { monitoringConfig } from "./config.js";
import type { AlertRule, Duration, Severity } from "./types.js";

/** Base of every runbook link; the file is docs/runbooks/<AlertName>.md in the repository. */
export const RUNBOOK_BASE_URL = "https://github.com/payrecon/payrecon/blob/main/docs/runbooks";

export function runbookUrl(alertName: string, baseUrl = RUNBOOK_BASE_URL): string {
  return `${baseUrl.replace(/\/+$/, "")}/${alertName}.md`;
}

/**
 * A selector scoped to the daemon's job, so a second scrape of the same metrics
 * (staging, a sidecar) never leaks into production alerts.
 */
export function sel(metric: string, ...matchers: string[]): string {
  return `${metric}{${[`job="${monitoringConfig.job}"`, ...matchers].join(",")}}`;
}

/** Numbers as PromQL literals without float noise (14.4 * 0.01 is 0.14400000000000002). */
export function num(n: number): string {
  return String(Number(n.toPrecision(12)));
}

/**
 * Tagged template for multi-line PromQL: strips the literal's common indentation and
 * surrounding blank lines so the generated YAML reads like hand-written rules. A
 * multi-line value keeps the indentation of the line it is inserted on.
 */
export function promql(strings: TemplateStringsArray, ...values: unknown[]): string {
  const marker = (i: number) => `\u0000${i}\u0000`;
  const raw = strings.reduce((acc, s, i) => acc + s + (i < values.length ? marker(i) : ""), "");
  const lines = raw
    .replace(/^\s*\n/, "")
    .replace(/\n\s*$/, "")
    .split("\n");
  const cut = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length));
  return lines
    .map((line) => {
      const text = line.slice(cut);
      const lead = text.slice(0, text.length - text.trimStart().length);
      return text.replace(/\u0000(\d+)\u0000/g, (_, i: string) =>
        String(values[Number(i)]).replaceAll("\n", `\n${lead}`),
      );
    })
    .join("\n");
}

/** Indents every line but the first, for embedding a multi-line expression in another. */
export function indent(expr: string, spaces: number): string {
  return expr.replaceAll("\n", `\n${" ".repeat(spaces)}`);
}

/**
 * One threshold per label value with a fallback for the rest: renders one clause per
 * override and a final clause excluding them, joined with `or`.
 */
export function thresholdByLabel(
  label: string,
  overrides: Record<string, number>,
  fallback: number,
  clause: (matcher: string | undefined, threshold: number) => string,
): string {
  const names = Object.keys(overrides).sort();
  if (names.length === 0) return clause(undefined, fallback);
  const parts = names.map((name) => clause(`${label}="${name}"`, overrides[name]!));
  parts.push(clause(`${label}!~"${names.join("|")}"`, fallback));
  return parts.map((p) => `(\n  ${indent(p, 2)}\n)`).join("\nor\n");
}

export interface AlertSpec {
  alert: string;
  expr: string;
  for?: Duration;
  severity: Severity;
  labels?: Record<string, string>;
  summary: string;
  description: string;
}

/** Builds an alert with the shared label and annotation layout and its runbook link. */
export function alert(spec: AlertSpec): AlertRule {
  const rule: AlertRule = {
    alert: spec.alert,
    expr: spec.expr,
    labels: { severity: spec.severity, ...spec.labels },
    annotations: { summary: spec.summary, description: spec.description, runbook_url: runbookUrl(spec.alert) },
  };
  if (spec.for !== undefined) rule.for = spec.for;
  return rule;
}

/** Duration in seconds rendered for humans in static annotation text (`30m`, `30h`, `1d`). */
export function humanSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** `0.05` as `5%` for static annotation text. */
export function percent(ratio: number): string {
  return `${num(ratio * 100)}%`;
}
