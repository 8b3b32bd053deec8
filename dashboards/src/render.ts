/**
 * Turns dashboard specs into Grafana dashboard JSON with @grafana/grafana-foundation-sdk.
 * The SDK lays panels out (24-column grid, left to right, new line when full) and fills
 * Grafana's defaults, so the specs only say what differs.
 */
import { PanelBuilder as BarGaugeBuilder } from "@grafana/grafana-foundation-sdk/bargauge";
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dash from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as HeatmapBuilder, YAxisConfigBuilder } from "@grafana/grafana-foundation-sdk/heatmap";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import {
  DATASOURCE_VARIABLE,
  type DashboardSpec,
  labelValuesQuery,
  type PanelSpec,
  type VariableSpec,
} from "./spec.js";

const datasource = { type: "prometheus", uid: `\${${DATASOURCE_VARIABLE}}` };

function targets(panel: PanelSpec): DataqueryBuilder[] {
  return panel.queries.map((q, i) => {
    const t = new DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .datasource(datasource)
      .expr(q.expr)
      .legendFormat(q.legend ?? "__auto");
    if (q.instant) t.instant();
    else t.range();
    if (q.format === "heatmap") t.format(PromQueryFormat.Heatmap);
    return t;
  });
}

function thresholds(panel: PanelSpec): dash.ThresholdsConfigBuilder | undefined {
  if (!panel.thresholds) return undefined;
  return new dash.ThresholdsConfigBuilder().mode(dash.ThresholdsMode.Absolute).steps(panel.thresholds);
}

/** Options every panel kind shares: identity, data source, size, unit, limits. */
interface CommonPanel<T> {
  id(id: number): T;
  title(title: string): T;
  description(description: string): T;
  datasource(ds: { type: string; uid: string }): T;
  span(w: number): T;
  height(h: number): T;
  unit(unit: string): T;
  min(min: number): T;
  max(max: number): T;
  thresholds(t: cog.Builder<dash.ThresholdsConfig>): T;
  withTarget(t: cog.Builder<cog.Dataquery>): T;
}

function applyCommon<T extends CommonPanel<T>>(b: T, panel: PanelSpec, id: number): T {
  b.id(id)
    .title(panel.title)
    .description(panel.description)
    .datasource(datasource)
    .span(panel.width ?? 12)
    .height(panel.height ?? 8)
    .unit(panel.unit);
  if (panel.min !== undefined) b.min(panel.min);
  if (panel.max !== undefined) b.max(panel.max);
  const t = thresholds(panel);
  if (t) b.thresholds(t);
  for (const target of targets(panel)) b.withTarget(target);
  return b;
}

function panelBuilder(panel: PanelSpec, id: number): cog.Builder<dash.Panel> {
  switch (panel.kind) {
    case "timeseries": {
      const b = applyCommon(new TimeseriesBuilder(), panel, id)
        .fillOpacity(panel.stacked ? 30 : 10)
        .legend(
          new common.VizLegendOptionsBuilder()
            .showLegend(true)
            .displayMode(common.LegendDisplayMode.List)
            .placement(common.LegendPlacement.Bottom),
        )
        .tooltip(
          new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending),
        );
      if (panel.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
      if (panel.thresholds) {
        b.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line));
      }
      return b;
    }
    case "stat":
      return applyCommon(new StatBuilder(), panel, id)
        .graphMode(common.BigValueGraphMode.None)
        .textMode(panel.showName ? common.BigValueTextMode.Name : common.BigValueTextMode.Auto)
        .colorMode(common.BigValueColorMode.Value)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
    case "bargauge":
      return applyCommon(new BarGaugeBuilder(), panel, id)
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Basic)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
    case "heatmap":
      return applyCommon(new HeatmapBuilder(), panel, id)
        .calculate(false)
        .yAxis(new YAxisConfigBuilder().unit(panel.unit))
        .showLegend();
  }
}

function variableBuilder(v: VariableSpec): dash.QueryVariableBuilder {
  const query = labelValuesQuery(v);
  return new dash.QueryVariableBuilder(v.name)
    .label(v.label)
    .description(v.description)
    .datasource(datasource)
    .query(query)
    .definition(query)
    .refresh(dash.VariableRefresh.OnTimeRangeChanged)
    .sort(dash.VariableSort.AlphabeticalAsc)
    .multi(v.multi)
    .includeAll(v.includeAll);
}

export function buildDashboard(spec: DashboardSpec): dash.Dashboard {
  const b = new dash.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(spec.tags)
    .editable()
    .tooltip(dash.DashboardCursorSync.Crosshair)
    .refresh("1m")
    .time({ from: spec.from, to: "now" })
    .timezone("utc")
    .withVariable(
      new dash.DatasourceVariableBuilder(DATASOURCE_VARIABLE)
        .label("Data source")
        .description("Prometheus scraping payrecon (job payrecon).")
        .type("prometheus"),
    )
    // Every payrecon dashboard links to the others, keeping the time range and variables.
    .link(
      new dash.DashboardLinkBuilder("payrecon")
        .type(dash.DashboardLinkType.Dashboards)
        .tags(["payrecon"])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
  for (const v of spec.variables) b.withVariable(variableBuilder(v));
  let id = 1;
  for (const row of spec.rows) {
    b.withRow(new dash.RowBuilder(row.title).id(id++));
    for (const panel of row.panels) b.withPanel(panelBuilder(panel, id++));
  }
  return b.build();
}
