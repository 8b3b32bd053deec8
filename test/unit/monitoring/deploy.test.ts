import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ITEM_ALERT_NAME } from "../../../src/alerts/itemAlerts.js";
import { alertRules } from "../../../src/alerts/rules.js";
import { loadConfig } from "../../../src/config.js";
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

/**
 * docker-compose.yml against the configuration defaults and the files it mounts: the topic job once
 * created 5 topics while the daemon subscribed to 7 (a crash loop), and the Kafka volume held nothing.
 */
describe("docker compose", () => {
  interface Service {
    environment?: Record<string, string | number>;
    volumes?: string[];
    ports?: string[];
    command?: string[] | string;
  }
  const load = async () =>
    parse(await readFile(join(repoRoot, "docker-compose.yml"), "utf8")) as {
      services: Record<string, Service>;
    };
  const env = (service: Service) =>
    Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
  /** `source:target[:ro]` mounts. */
  const mounts = (service: Service) =>
    (service.volumes ?? []).map((volume) => {
      const [source, target] = volume.split(":") as [string, string];
      return { source, target };
    });
  /** The host path a container path of this service comes from, if a bind mount holds it. */
  const hostPath = (service: Service, containerPath: string) => {
    const mount = mounts(service).find(
      ({ source, target }) =>
        source.startsWith("./") && (containerPath + "/").startsWith(target.replace(/\/$/, "") + "/"),
    );
    return mount && join(repoRoot, mount.source, containerPath.slice(mount.target.replace(/\/$/, "").length));
  };

  it("creates every topic the daemon uses by default (brokers do not create them)", async () => {
    const { services } = await load();
    expect(env(services.kafka!).KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe("false");
    const script = [services["kafka-topics"]!.command].flat().join("\n");
    const created = /for topic in ([^;]+);/.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
    // The compose file's payrecon sets no TOPIC_*: it uses the defaults.
    const config = loadConfig(env(services.payrecon!));
    const used = Object.values(config.topics).filter((topic): topic is string => topic !== undefined);
    expect(used.length).toBeGreaterThanOrEqual(7);
    expect(
      used.filter((topic) => !created.includes(topic)),
      "topics used but not created",
    ).toEqual([]);
  });

  it("keeps Kafka's data in the kafka-data volume", async () => {
    const { services } = await load();
    const volume = mounts(services.kafka!).find(({ source }) => source === "kafka-data");
    expect(volume).toBeDefined();
    expect(env(services.kafka!).KAFKA_LOG_DIRS).toBe(volume!.target);
  });

  it("mounts files that exist, where the services read them", async () => {
    const { services } = await load();
    for (const [name, service] of Object.entries(services)) {
      for (const { source } of mounts(service).filter(({ source }) => source.startsWith("./"))) {
        expect(existsSync(join(repoRoot, source)), `${name}: ${source}`).toBe(true);
      }
    }
    const configFile = (service: Service) =>
      [service.command]
        .flat()
        .find((arg) => arg?.startsWith("--config.file="))
        ?.slice("--config.file=".length);
    for (const name of ["prometheus", "alertmanager"]) {
      const file = configFile(services[name]!);
      expect(file && hostPath(services[name]!, file), `${name}: ${file}`).toBeTruthy();
      expect(existsSync(hostPath(services[name]!, file!)!), `${name}: ${file}`).toBe(true);
    }
    // Grafana: provisioning files, and the dashboards directory their provider points at.
    const grafana = services.grafana!;
    for (const dir of ["dashboards", "datasources"]) {
      expect(existsSync(hostPath(grafana, `/etc/grafana/provisioning/${dir}`)!), dir).toBe(true);
    }
    const provider = parse(
      await readFile(hostPath(grafana, "/etc/grafana/provisioning/dashboards/payrecon.yml")!, "utf8"),
    ) as { providers: Array<{ options: { path: string } }> };
    const dashboards = hostPath(grafana, provider.providers[0]!.options.path);
    expect(dashboards && existsSync(join(dashboards, "payrecon-sre-overview.json"))).toBe(true);
  });

  it("has Prometheus scrape and alert to services and ports that compose runs", async () => {
    const { services } = await load();
    const prometheus = parse(await readFile(join(repoRoot, PROMETHEUS), "utf8"));
    const targets: string[] = [
      ...prometheus.scrape_configs.flatMap((job: { static_configs: Array<{ targets: string[] }> }) =>
        job.static_configs.flatMap((c) => c.targets),
      ),
      ...prometheus.alerting.alertmanagers.flatMap((a: { static_configs: Array<{ targets: string[] }> }) =>
        a.static_configs.flatMap((c) => c.targets),
      ),
    ];
    const listens = (name: string): number[] => {
      const service = services[name]!;
      const published = (service.ports ?? []).map((port) => Number(port.split(":").at(-1)));
      // payrecon listens where its configuration says, whatever is published.
      return name === "payrecon" ? [loadConfig(env(service)).http.port] : published;
    };
    for (const target of targets) {
      const [named, port] = target.split(":") as [string, string];
      // Prometheus scraping itself.
      const host = named === "localhost" ? "prometheus" : named;
      expect(Object.keys(services), target).toContain(host);
      expect(listens(host), target).toContain(Number(port));
    }
    expect(targets).toContain("payrecon:8080");
  });
});
