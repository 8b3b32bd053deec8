import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderRuleFile } from "../../src/alerts/rules.js";
import { loadConfig } from "../../src/config.js";
import { DEFAULT_TOPICS, freshness } from "../../src/http/statusPage/model.js";
import type { Staleness } from "../../src/staleness.js";
import { repoRoot } from "./monitoring/tools.js";

/**
 * One staleness configuration (STALE_*) for the status page's "stale" badge and the generated freshness
 * alerts: the thresholds are read back from the rule file and the page must flip at exactly those ages.
 * Before, the page said 1h/26h while the alerts said 30m and 30h/78h.
 */

interface RuleThresholds {
  gateway: { fallback: number; bySource: Record<string, number> };
  bank: { weekday: number; afterWeekend: number };
}

/** The thresholds as Prometheus will evaluate them, read from the rendered rule file. */
function thresholdsOf(ruleFile: string): RuleThresholds {
  const rules = (
    parse(ruleFile) as { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] }
  ).groups.find((group) => group.name === "payrecon-freshness")!.rules;
  const gatewayExpr = rules.find((rule) => rule.alert === "PayreconGatewayEventsStale")!.expr;
  const bySource: Record<string, number> = {};
  let fallback = Number.NaN;
  for (const match of gatewayExpr.matchAll(/topic="gateway\.events"(?:,source(=|!~)"([^"]+)")?\}\) > (\d+)/g)) {
    if (match[1] === "=") bySource[match[2]!] = Number(match[3]);
    else fallback = Number(match[3]);
  }
  const record = rules.find((rule) => rule.record === "payrecon:bank_statement_stale_after_seconds")!.expr;
  const weekend = /vector\((\d+)\) and on \(\) day_of_week\(\) <= 2/.exec(record);
  const weekday = /or\s+vector\((\d+)\)/.exec(record);
  return {
    gateway: { fallback, bySource },
    bank: { weekday: Number(weekday![1]), afterWeekend: Number(weekend![1]) },
  };
}

// 2026-01-07 is a Wednesday, 2026-01-05 a Monday (UTC): fixed dates, the model is a pure function of `now`.
const WEDNESDAY = new Date("2026-01-07T12:00:00Z");
const MONDAY = new Date("2026-01-05T12:00:00Z");

/** The status page's state for one source whose newest message is `age` seconds old. */
function pageSays(staleness: Staleness, topic: string, source: string, age: number, now: Date) {
  const row = freshness(
    [{ topic, source, last_event: new Date(now.getTime() - age * 1000) }],
    DEFAULT_TOPICS,
    now,
    staleness,
  )[0]!;
  return { stale: row.stale, after: row.staleAfterSeconds };
}

/** The page flips from fresh to stale exactly where the rule's threshold is. */
function expectPageMatchesRules(staleness: Staleness, rules: RuleThresholds) {
  const cases: Array<[topic: string, source: string, threshold: number, now: Date]> = [
    [DEFAULT_TOPICS.gateway, "stripe", rules.gateway.fallback, WEDNESDAY],
    ...Object.entries(rules.gateway.bySource).map(
      ([source, threshold]) => [DEFAULT_TOPICS.gateway, source, threshold, WEDNESDAY] as [string, string, number, Date],
    ),
    [DEFAULT_TOPICS.bank, "bank_a", rules.bank.weekday, WEDNESDAY],
    [DEFAULT_TOPICS.bank, "bank_a", rules.bank.afterWeekend, MONDAY],
  ];
  for (const [topic, source, threshold, now] of cases) {
    expect(Number.isFinite(threshold), `${source}: threshold read from the rules`).toBe(true);
    expect(pageSays(staleness, topic, source, threshold - 1, now), `${source} just under`).toEqual({
      stale: false,
      after: threshold,
    });
    expect(pageSays(staleness, topic, source, threshold + 1, now), `${source} just over`).toEqual({
      stale: true,
      after: threshold,
    });
  }
}

describe("one staleness configuration for the status page and the alert rules", () => {
  it("defaults: the committed rule file's thresholds are the status page's (30m gateway, 30h/78h bank)", async () => {
    const committed = await readFile(join(repoRoot, "deploy/prometheus/rules/payrecon.rules.yml"), "utf8");
    const rules = thresholdsOf(committed);
    expect(rules).toEqual({
      gateway: { fallback: 1_800, bySource: {} },
      bank: { weekday: 108_000, afterWeekend: 280_800 },
    });
    expectPageMatchesRules(loadConfig({}).staleness, rules);
  });

  it("STALE_* settings reach both: the generator's rule file for the deployment and its status page", async () => {
    const env = {
      STALE_GATEWAY_AFTER: "2h",
      STALE_GATEWAY_AFTER_BY_SOURCE: "adyen:6h",
      STALE_BANK_AFTER: "20h",
      STALE_BANK_AFTER_WEEKEND: "50h",
    };
    const out = join(await mkdtemp(join(tmpdir(), "payrecon-staleness-")), "site.rules.yml");
    await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/generate-monitoring.ts", "--out", out], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    const rules = thresholdsOf(await readFile(out, "utf8"));
    expect(rules).toEqual({
      gateway: { fallback: 7_200, bySource: { adyen: 21_600 } },
      bank: { weekday: 72_000, afterWeekend: 180_000 },
    });
    expectPageMatchesRules(loadConfig(env).staleness, rules);
    // In process too: renderRuleFile with the configuration's staleness is what the generator wrote.
    expect(
      thresholdsOf(
        renderRuleFile({ job: "payrecon", runbookBaseUrl: "https://x.test", staleness: loadConfig(env).staleness }),
      ),
    ).toEqual(rules);
  });

  it("refuses a per-gateway override that is not gateway:duration", () => {
    expect(() => loadConfig({ STALE_GATEWAY_AFTER_BY_SOURCE: "adyen=2h" })).toThrow(/STALE_GATEWAY_AFTER_BY_SOURCE/);
    expect(() => loadConfig({ STALE_BANK_AFTER: "a day" })).toThrow(/STALE_BANK_AFTER/);
  });
});
