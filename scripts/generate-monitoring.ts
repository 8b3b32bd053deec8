/**
 * Writes the generated monitoring artefacts: the Prometheus rule file and the Grafana
 * dashboards. Deterministic, so a second run changes nothing.
 *
 *   npx tsx scripts/generate-monitoring.ts          # write
 *   npx tsx scripts/generate-monitoring.ts --check  # exit 1 if a committed file is stale (CI)
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderDashboards } from "../dashboards/src/index.js";
import { RULE_FILE_PATH, renderRuleFile } from "../src/alerts/rules.js";

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

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.includes("--check"));
}
