import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ITEM_ALERT_NAME } from "../../../src/alerts/itemAlerts.js";
import { RULE_FILE_PATH, alertNames, alertRules, renderRuleFile, runbookUrl } from "../../../src/alerts/rules.js";
import { promtoolTestFiles, repoRoot, runTool } from "./tools.js";

interface PromtoolTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

async function promtoolCases(): Promise<{ fires: Set<string>; silent: Set<string> }> {
  const fires = new Set<string>();
  const silent = new Set<string>();
  for (const file of await promtoolTestFiles()) {
    const doc = parse(await readFile(join(repoRoot, file), "utf8")) as PromtoolTestFile;
    for (const t of doc.tests) {
      for (const c of t.alert_rule_test ?? []) (c.exp_alerts?.length ? fires : silent).add(c.alertname);
    }
  }
  return { fires, silent };
}

describe("Prometheus rules", () => {
  it("the committed rule file is exactly what renderRuleFile() produces", async () => {
    const committed = await readFile(join(repoRoot, RULE_FILE_PATH), "utf8");
    expect(committed, "regenerate with: npx tsx scripts/generate-monitoring.ts").toBe(renderRuleFile());
  });

  it("generates the rule file of another deployment: its job in every selector, its runbook base in every link, nothing else changed", async () => {
    const site = { job: "payrecon-prod", runbookBaseUrl: "https://wiki.example.test/ops/runbooks/" };
    const theirs = renderRuleFile(site);
    const ours = renderRuleFile();
    expect(theirs).not.toContain('job="payrecon"');
    expect(theirs.split('job="payrecon-prod"').length).toBe(ours.split('job="payrecon"').length);
    const rules = (
      parse(theirs) as { groups: { rules: { alert?: string; annotations?: { runbook_url: string } }[] }[] }
    ).groups
      .flatMap((group) => group.rules)
      .filter((rule) => rule.alert);
    expect(rules.length).toBe(alertRules().length);
    for (const rule of rules) {
      expect(rule.annotations?.runbook_url).toBe(`https://wiki.example.test/ops/runbooks/${rule.alert}.md`);
    }
    // Undo the two settings and the file is ours again, to the byte.
    const back = theirs
      .replaceAll('job="payrecon-prod"', 'job="payrecon"')
      .replaceAll("https://wiki.example.test/ops/runbooks", runbookUrl("X").replace("/X.md", ""));
    expect(back).toBe(ours);
    const dir = await mkdtemp(join(tmpdir(), "payrecon-rules-"));
    await writeFile(join(dir, "site.rules.yml"), theirs);
    const { code, output } = await runTool("promtool", ["check", "rules", "--lint=all", join(dir, "site.rules.yml")]);
    expect(code, output).toBe(0);
  });

  it("passes promtool check rules --lint=all", async () => {
    const { code, output } = await runTool("promtool", ["check", "rules", "--lint=all", RULE_FILE_PATH]);
    expect(code, output).toBe(0);
  });

  it("passes every promtool rule unit test", { timeout: 180_000 }, async () => {
    // One promtool per file, in parallel: each evaluates every rule at every step.
    const results = await Promise.all(
      (await promtoolTestFiles()).map(async (file) => ({
        file,
        ...(await runTool("promtool", ["test", "rules", file])),
      })),
    );
    const failed = results.filter((r) => r.code !== 0);
    expect(failed.map((r) => `${r.file}:\n${r.output}`).join("\n"), "promtool test rules failed").toBe("");
  });

  it("has a promtool case where each alert fires and one where it stays silent", async () => {
    const { fires, silent } = await promtoolCases();
    for (const name of alertNames()) {
      expect(fires.has(name), `${name}: no promtool case expecting it to fire`).toBe(true);
      // The watchdog fires unconditionally: there is no silent case to test.
      if (name !== "PayreconWatchdog")
        expect(silent.has(name), `${name}: no promtool case expecting silence`).toBe(true);
    }
    for (const name of [...fires, ...silent])
      expect(alertNames(), `promtool tests name unknown alert ${name}`).toContain(name);
  });

  it("gives every alert a severity, fixed summary, templated description and its runbook link", () => {
    for (const rule of alertRules()) {
      expect(rule.alert).toMatch(/^Payrecon[A-Z]\w+$/);
      expect(["critical", "warning", "none"]).toContain(rule.labels.severity);
      expect(rule.annotations.summary, `${rule.alert} summary must not vary per series`).not.toContain("{{");
      expect(rule.annotations.description.length).toBeGreaterThan(20);
      expect(rule.annotations.runbook_url).toBe(runbookUrl(rule.alert));
      expect(rule.annotations.runbook_url).toBe(
        `https://github.com/payrecon/payrecon/blob/main/docs/runbooks/${rule.alert}.md`,
      );
    }
  });
});

describe("runbooks", () => {
  const sections = ["Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation", "Verification"];
  // Rule alerts plus the item-level alert payrecon pushes to Alertmanager itself.
  const withRunbooks = () => [...alertNames(), ITEM_ALERT_NAME];

  it("exist for every alert, named after it, with every section", async () => {
    for (const name of withRunbooks()) {
      const text = await readFile(join(repoRoot, "docs", "runbooks", `${name}.md`), "utf8").catch(() => "");
      expect(text, `docs/runbooks/${name}.md is missing`).not.toBe("");
      expect(text.split("\n")[0]).toBe(`# ${name}`);
      for (const s of sections) expect(text, `${name}.md lacks "## ${s}"`).toMatch(new RegExp(`^## ${s}$`, "m"));
    }
  });

  it("are all listed in the index, which lists nothing else", async () => {
    const index = await readFile(join(repoRoot, "docs", "runbooks", "README.md"), "utf8");
    const linked = [...index.matchAll(/\]\((Payrecon\w+)\.md\)/g)].map((m) => m[1]);
    expect(new Set(linked)).toEqual(new Set(withRunbooks()));
  });
});
