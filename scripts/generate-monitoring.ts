/**
 * Writes the generated monitoring artefacts: the Prometheus rule file and the Grafana
 * dashboards. Deterministic, so a second run changes nothing.
 *
 *   npx tsx scripts/generate-monitoring.ts          # write
 *   npx tsx scripts/generate-monitoring.ts --check  # exit 1 if a committed file is stale (CI)
 *   npx tsx scripts/generate-monitoring.ts --job payrecon-prod --runbook-base-url https://wiki.example/runbooks \
 *       --out /etc/prometheus/rules/payrecon.rules.yml  # the rule file for your deployment
 *
 * Without --runbook-base-url the deployment's RUNBOOK_BASE_URL (the daemon's configuration) is used, so the
 * rules' links and the item alerts' links agree; the freshness alerts take its STALE_* settings, as its
 * status page does.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderDashboards } from "../dashboards/src/index.js";
import { parseArgs } from "node:util";
import { DEFAULT_RULE_SITE, RULE_FILE_PATH, renderRuleFile } from "../src/alerts/rules.js";
import { loadConfig } from "../src/config.js";
import type { Staleness } from "../src/staleness.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export function monitoringArtefacts(): { path: string; content: string }[] {
  return [
    { path: RULE_FILE_PATH, content: renderRuleFile() },
    ...renderDashboards().map((d) => ({ path: d.path, content: d.content })),
  ];
}

async function main(check: boolean): Promise<void> {
  const stale: string[] = [];
  for (const { path, content } of monitoringArtefacts()) {
    const file = join(root, path);
    const current = await readFile(file, "utf8").catch(() => undefined);
    if (current === content) continue;
    if (check) {
      stale.push(path);
      continue;
    }
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
    console.log(`wrote ${path}`);
  }
  if (stale.length > 0) {
    console.error(`stale generated files (run npx tsx scripts/generate-monitoring.ts):\n  ${stale.join("\n  ")}`);
    process.exitCode = 1;
  }
}

/** The rule file for one deployment, written where the operator says (nothing else is touched). */
async function writeSiteRules(job: string, runbookBaseUrl: string, staleness: Staleness, out: string): Promise<void> {
  if (!/^[a-zA-Z_][a-zA-Z0-9_:.-]*$/.test(job))
    throw new Error(`--job ${JSON.stringify(job)} is not a job label value`);
  if (!URL.canParse(runbookBaseUrl)) throw new Error(`--runbook-base-url ${runbookBaseUrl} is not a URL`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, renderRuleFile({ job, runbookBaseUrl, staleness }));
  console.log(`wrote ${out} (job="${job}", runbooks under ${runbookBaseUrl})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      check: { type: "boolean" },
      job: { type: "string" },
      "runbook-base-url": { type: "string" },
      out: { type: "string" },
    },
  });
  if (values.job !== undefined || values["runbook-base-url"] !== undefined || values.out !== undefined) {
    if (!values.out) throw new Error("--out FILE is needed with --job or --runbook-base-url");
    // The deployment's own configuration: runbook links and STALE_* thresholds as its daemon has them.
    const config = loadConfig(process.env);
    await writeSiteRules(
      values.job ?? DEFAULT_RULE_SITE.job,
      values["runbook-base-url"] ?? config.runbookBaseUrl,
      config.staleness,
      values.out,
    );
  } else {
    await main(values.check === true);
  }
}
