import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ITEM_ALERT_NAME } from "../../../src/alerts/itemAlerts.js";
import { alertRules } from "../../../src/alerts/rules.js";
import { repoRoot, runTool } from "./tools.js";

const ALERTMANAGER = "deploy/alertmanager/alertmanager.yml";
const PROMETHEUS = "deploy/prometheus/prometheus.yml";

/** The receiver `amtool config routes test` resolves for a label set. */
async function receiverFor(labels: Record<string, string>): Promise<string> {
  const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  const { code, output } = await runTool("amtool", [
    "config",
    "routes",
    "test",
    `--config.file=${ALERTMANAGER}`,
    ...args,
  ]);
  expect(code, output).toBe(0);
  // amtool warns on stderr that --config.file overrides --alertmanager.url; the answer is the other line.
  return output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("Warning"))
    .join(",");
}

describe("Prometheus config", () => {
  it("passes promtool check config, including the rule file it points at", async () => {
    const { code, output } = await runTool("promtool", ["check", "config", PROMETHEUS]);
    expect(code, output).toBe(0);
    expect(output).toContain("rules/payrecon.rules.yml");
  });

  it("scrapes payrecon:8080 as job payrecon and alerts to alertmanager:9093", async () => {
    const config = parse(await readFile(join(repoRoot, PROMETHEUS), "utf8"));
    const job = config.scrape_configs.find((j: { job_name: string }) => j.job_name === "payrecon");
    expect(job.static_configs[0].targets).toEqual(["payrecon:8080"]);
    expect(config.alerting.alertmanagers[0].static_configs[0].targets).toEqual(["alertmanager:9093"]);
  });
});

describe("Alertmanager config", () => {
  it("passes amtool check-config", async () => {
    const { code, output } = await runTool("amtool", ["check-config", ALERTMANAGER]);
    expect(code, output).toBe(0);
  });

  it("routes critical to the pager, warning to tickets, the watchdog to the dead-man's switch", async () => {
    expect(await receiverFor({ alertname: "PayreconDown", severity: "critical" })).toBe("pager");
    expect(await receiverFor({ alertname: "PayreconFundsHeld", severity: "warning" })).toBe("ticket");
    expect(await receiverFor({ alertname: "PayreconWatchdog", severity: "none" })).toBe("deadmansswitch");
    const { code, output } = await runTool("amtool", [
      "config",
      "routes",
      "test",
      `--config.file=${ALERTMANAGER}`,
      "--verify.receivers=pager",
      "alertname=PayreconPayoutFailureRatioHigh",
      "severity=critical",
      "gateway=stripe",
    ]);
    expect(code, output).toBe(0);
  });

  it("routes every alert in the rules by its severity", async () => {
    const expected = { critical: "pager", warning: "ticket", none: "deadmansswitch" } as const;
    for (const rule of alertRules()) {
      const receiver = await receiverFor({ alertname: rule.alert, severity: rule.labels.severity });
      expect(receiver, rule.alert).toBe(expected[rule.labels.severity]);
    }
    // Item-level alerts pushed by payrecon carry the same severity labels.
    expect(await receiverFor({ alertname: ITEM_ALERT_NAME, severity: "critical", status: "failed" })).toBe("pager");
    expect(await receiverFor({ alertname: ITEM_ALERT_NAME, severity: "warning", status: "delayed" })).toBe("ticket");
  });

  it("groups by alert and gateway and lets a critical silence the warning of the same alert", async () => {
    const config = parse(await readFile(join(repoRoot, ALERTMANAGER), "utf8"));
    expect(config.route.group_by).toEqual(["alertname", "gateway"]);
    expect(config.inhibit_rules).toContainEqual({
      source_matchers: ['severity="critical"'],
      target_matchers: ['severity="warning"'],
      equal: ["alertname", "gateway", "status"],
    });
  });
});
