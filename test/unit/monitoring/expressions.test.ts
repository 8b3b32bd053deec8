import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { dashboardSpecs } from "../../../dashboards/src/specs.js";
import { allMonitoringExpressions } from "../../support/monitoringExpressions.js";
import { selectableSeriesNames } from "../../../src/alerts/metricNames.js";
import { ruleGroups } from "../../../src/alerts/rules.js";
import { runTool } from "./tools.js";

const expressions = allMonitoringExpressions();
const recorded = new Set(ruleGroups.flatMap((g) => g.rules.flatMap((r) => ("record" in r ? [r.record] : []))));

describe("allMonitoringExpressions", () => {
  it("lists every rule and every dashboard query and variable", () => {
    const rules = ruleGroups.flatMap((g) => g.rules).length;
    const queries = dashboardSpecs.flatMap((d) => d.rows.flatMap((r) => r.panels.flatMap((p) => p.queries))).length;
    const variables = dashboardSpecs.flatMap((d) => d.variables).length;
    expect(expressions).toHaveLength(rules + queries + variables);
    expect(new Set(expressions.map((e) => e.source)).size).toBe(expressions.length);
  });

  it("leaves no Grafana variable in the substituted queries", () => {
    for (const e of expressions) expect(e.expr, e.source).not.toContain("$");
  });

  it("selects only metrics payrecon, Node or Prometheus export", () => {
    const known = selectableSeriesNames();
    for (const { source, expr } of expressions) {
      for (const [, name] of expr.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\{/g)) {
        expect(known.has(name!), `${source}: unknown metric ${name}`).toBe(true);
      }
      for (const [name] of expr.matchAll(/\b[a-z_]+:[a-z0-9_:]+/g)) {
        expect(recorded.has(name), `${source}: ${name} is not a recording rule`).toBe(true);
      }
    }
  });

  it("are all valid PromQL (checked by promtool)", async () => {
    // promtool parses rule expressions, so each query becomes a throwaway recording rule.
    const dir = await mkdtemp(join(tmpdir(), "payrecon-promql-"));
    try {
      const file = join(dir, "queries.yml");
      const rules = expressions.map((e, i) => ({ record: `check:query_${i}`, expr: e.expr }));
      await writeFile(file, stringify({ groups: [{ name: "queries", rules }] }));
      const { code, output } = await runTool("promtool", ["check", "rules", file]);
      expect(code, output).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
