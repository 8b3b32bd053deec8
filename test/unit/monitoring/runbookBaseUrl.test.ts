import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { bucketAlerts, ITEM_ALERT_NAME } from "../../../src/alerts/itemAlerts.js";
import { DEFAULT_RULE_SITE } from "../../../src/alerts/rules.js";
import { loadConfig } from "../../../src/config.js";
import { repoRoot } from "./tools.js";

/** RUNBOOK_BASE_URL: one setting for every runbook link a deployment sends, item alerts and rules alike. */

const payment = {
  id: "pay_1",
  status: "failed",
  direction: "payout",
  gateway: "stripe",
  currency: "EUR",
  failure_category: "account",
  failure_code: "account_closed",
  hold_reason: null,
  counterparty: "acme",
  at_risk_minor: 5_000_000,
  status_since: new Date(0),
  status_reason: "gateway said failed",
};

const itemAlertLink = (runbookBaseUrl: string) =>
  bucketAlerts([payment], { minAmountMajor: { "*": 1 }, intervalMs: 30_000, runbookBaseUrl }, new Date(0))[0]!
    .annotations.runbook_url ?? "";

describe("RUNBOOK_BASE_URL", () => {
  it("defaults to the repository's runbooks, the base of the committed rule file", () => {
    const config = loadConfig({});
    expect(config.runbookBaseUrl).toBe(DEFAULT_RULE_SITE.runbookBaseUrl);
    expect(itemAlertLink(config.runbookBaseUrl)).toBe(`${DEFAULT_RULE_SITE.runbookBaseUrl}/${ITEM_ALERT_NAME}.md`);
  });

  it("sets the item alerts' runbook link (a trailing slash is dropped)", () => {
    const config = loadConfig({ RUNBOOK_BASE_URL: "https://wiki.example.test/ops/runbooks/" });
    expect(itemAlertLink(config.runbookBaseUrl)).toBe(`https://wiki.example.test/ops/runbooks/${ITEM_ALERT_NAME}.md`);
  });

  it("is refused when it is not a URL", () => {
    expect(() => loadConfig({ RUNBOOK_BASE_URL: "wiki/runbooks" })).toThrow(/RUNBOOK_BASE_URL/);
  });

  it("is the rule generator's default: the rules' links and the item alerts' links share one base", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "payrecon-runbooks-")), "site.rules.yml");
    const base = "https://wiki.example.test/payrecon";
    await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "scripts/generate-monitoring.ts", "--job", "payrecon-eu", "--out", out],
      { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", RUNBOOK_BASE_URL: base } },
    );
    const links = (
      parse(await readFile(out, "utf8")) as { groups: { rules: { annotations?: { runbook_url: string } }[] }[] }
    ).groups
      .flatMap((group) => group.rules)
      .flatMap((rule) => (rule.annotations ? [rule.annotations.runbook_url] : []));
    expect(links.length).toBeGreaterThan(10);
    for (const link of links) expect(link.startsWith(`${base}/`), link).toBe(true);
    expect(itemAlertLink(loadConfig({ RUNBOOK_BASE_URL: base }).runbookBaseUrl).startsWith(`${base}/`)).toBe(true);
  });
});
