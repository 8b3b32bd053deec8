import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { renderDashboards } from "../../../dashboards/src/index.js";
import { repoRoot } from "./tools.js";

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
}
interface Variable {
  type: string;
  name: string;
  query: string;
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const DATASOURCE = { type: "prometheus", uid: `\${datasource}` };
// Stable uids: links, bookmarks and alert annotations point at them. Change only on purpose.
const UIDS = ["payrecon-sre-overview", "payrecon-finance", "payrecon-gateway"];

const rendered = renderDashboards();
const dashboards = rendered.map((d) => JSON.parse(d.content) as Dashboard);
const panels = (d: Dashboard) => d.panels.filter((p) => p.type !== "row");

describe("dashboards", () => {
  it("committed JSON is exactly what dashboards/src generates", async () => {
    for (const d of rendered) {
      const committed = await readFile(join(repoRoot, d.path), "utf8").catch(() => "");
      expect(committed, `${d.path} is stale: run npx tsx scripts/generate-monitoring.ts`).toBe(d.content);
    }
  });

  it("have the stable, unique uids", () => {
    expect(dashboards.map((d) => d.uid)).toEqual(UIDS);
  });

  it("have a prometheus datasource variable that every panel, query and variable uses", () => {
    for (const d of dashboards) {
      const ds = d.templating.list.find((v) => v.name === "datasource");
      expect(ds, d.uid).toMatchObject({ type: "datasource", query: "prometheus" });
      for (const v of d.templating.list.filter((x) => x.type === "query"))
        expect(v.datasource, v.name).toEqual(DATASOURCE);
      for (const p of panels(d)) {
        expect(p.datasource, `${d.uid} / ${p.title}`).toEqual(DATASOURCE);
        for (const t of p.targets ?? []) expect(t.datasource, `${d.uid} / ${p.title} / ${t.refId}`).toEqual(DATASOURCE);
      }
    }
  });

  it("give every panel a title, a description, a unit, queries and a unique id", () => {
    for (const d of dashboards) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${d.uid}: duplicate panel ids`).toBe(ids.length);
      for (const p of panels(d)) {
        const where = `${d.uid} / ${p.title ?? p.id}`;
        expect(p.title?.trim(), where).toBeTruthy();
        expect(p.description?.trim(), where).toBeTruthy();
        expect(p.fieldConfig?.defaults?.unit, where).toBeTruthy();
        expect(p.targets?.length, where).toBeGreaterThan(0);
      }
    }
  });

  it("use $__rate_interval for every range in every query", () => {
    // No fixed windows: SLO panels read the recording rules instead of raw 30d ranges.
    for (const d of dashboards) {
      for (const p of panels(d)) {
        for (const t of p.targets ?? []) {
          for (const [, range] of t.expr.matchAll(/\[([^\]]*)\]/g)) {
            expect(range, `${d.uid} / ${p.title} / ${t.refId}: ${t.expr}`).toBe("$__rate_interval");
          }
        }
      }
    }
  });

  it("let the gateway drill-down pick gateway, currency and direction from label values", () => {
    const d = dashboards.find((x) => x.uid === "payrecon-gateway")!;
    const vars = Object.fromEntries(d.templating.list.map((v) => [v.name, v]));
    expect(vars.gateway?.query).toBe('label_values(payrecon_payments{job="payrecon"}, gateway)');
    expect(vars.direction?.query).toBe('label_values(payrecon_payments{job="payrecon"}, direction)');
    expect(vars.currency?.query).toBe('label_values(payrecon_funds_at_risk{job="payrecon"}, currency)');
    const exprs = panels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const v of ["$gateway", "$currency", "$direction"]) {
      expect(
        exprs.some((e) => e.includes(v)),
        `${v} unused`,
      ).toBe(true);
    }
  });
});

describe("Grafana provisioning", () => {
  it("points the datasource at prometheus:9090 and the file provider at the mounted dashboards", async () => {
    const ds = parse(await readFile(join(repoRoot, "dashboards/provisioning/datasources/prometheus.yml"), "utf8"));
    expect(ds.datasources[0]).toMatchObject({ type: "prometheus", url: "http://prometheus:9090" });
    const prov = parse(await readFile(join(repoRoot, "dashboards/provisioning/dashboards/payrecon.yml"), "utf8"));
    expect(prov.providers[0]).toMatchObject({ type: "file", options: { path: "/var/lib/grafana/dashboards" } });
  });
});
