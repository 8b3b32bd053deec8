/**
 * Dashboards as plain typed data: what each panel shows and why. render.ts turns a spec
 * into Grafana JSON with @grafana/grafana-foundation-sdk; test/support/monitoringExpressions.ts reads
 * the same specs to list every PromQL query without depending on the (dev-only) SDK.
 */
import { sel } from "../../src/alerts/promql.js";

export type PanelKind = "timeseries" | "stat" | "heatmap" | "bargauge";

export interface QuerySpec {
  expr: string;
  legend?: string;
  /** One value per series at the end of the range (stat and bar gauge panels). */
  instant?: boolean;
  /** `heatmap` turns cumulative `le` buckets into per-bucket counts for the heatmap panel. */
  format?: "heatmap";
}

export interface Threshold {
  value: number | null;
  color: string;
}

export interface PanelSpec {
  kind: PanelKind;
  title: string;
  /** Shown on hover: what the panel answers and how to read it. */
  description: string;
  /** Grafana unit id (`percentunit`, `s`, `short`, `suffix:/h`…); money is `short`, in major units. */
  unit: string;
  queries: QuerySpec[];
  /** Grid width out of 24. Default 12. */
  width?: number;
  height?: number;
  min?: number;
  max?: number;
  /** Ascending steps; the first value is null (base colour). */
  thresholds?: Threshold[];
  stacked?: boolean;
  /** Stat panels: show the series name (legend) instead of the value, e.g. a version. */
  showName?: boolean;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  description: string;
  /** Options come from `label_values(<sourceSelector>, <sourceLabel>)`. */
  sourceSelector: string;
  sourceLabel: string;
  multi: boolean;
  includeAll: boolean;
}

export interface DashboardSpec {
  /** Stable: links, bookmarks and alert annotations point at it. Never derive it from the title. */
  uid: string;
  title: string;
  description: string;
  /** Output file under dashboards/. */
  file: string;
  tags: string[];
  /** Default time range, e.g. `now-6h`. */
  from: string;
  variables: VariableSpec[];
  rows: RowSpec[];
}

/** Name of the datasource template variable every panel and query uses. */
export const DATASOURCE_VARIABLE = "datasource";

/** `sel` for dashboards: the same job scoping as the alert rules. */
export const m = sel;

/** Gauges computed from the database are equal on every replica: keep one copy. */
export function dedup(labels: string, selector: string): string {
  return `max by (${labels}) (${selector})`;
}

export function labelValuesQuery(v: VariableSpec): string {
  return `label_values(${v.sourceSelector}, ${v.sourceLabel})`;
}
