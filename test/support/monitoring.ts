import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../src/db/embeddedPostgres.js";
import { waitUntil } from "./daemon.js";

/** Real Prometheus and Alertmanager (Debian packages) on free loopback ports, for end-to-end tests. */

export interface Server {
  url: string;
  dir: string;
  output: () => string;
  stop(): Promise<void>;
}

async function run(binary: string, args: (port: number, dir: string) => string[], ready: string): Promise<Server> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), `${path.basename(binary)}-`));
  let output = "";
  const child: ChildProcess = spawn(binary, args(port, dir), { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (chunk) => {
    output = (output + chunk).slice(-50_000);
  });
  child.stderr?.on("data", (chunk) => {
    output = (output + chunk).slice(-50_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(async () => (await fetch(`${url}${ready}`)).ok, 30_000, `${binary} ready`);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${String(error)}\n${output}`);
  }
  return {
    url,
    dir,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startAlertmanager(config: string): Promise<Server> {
  return run(
    "/usr/bin/prometheus-alertmanager",
    (port, dir) => {
      const file = path.join(dir, "alertmanager.yml");
      writeFileSync(file, config);
      return [
        `--config.file=${file}`,
        `--storage.path=${dir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
      ];
    },
    "/-/ready",
  );
}

/** Prometheus scraping `targets` every second, evaluating `ruleFiles` every second, alerting `alertmanager`. */
export function startPrometheus(options: {
  targets: string[];
  ruleFiles: string[];
  alertmanager?: string;
}): Promise<Server> {
  return run(
    "/usr/bin/prometheus",
    (port, dir) => {
      const file = path.join(dir, "prometheus.yml");
      const alerting = options.alertmanager
        ? `alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["${new URL(options.alertmanager).host}"]\n`
        : "";
      writeFileSync(
        file,
        `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n${alerting}` +
          `rule_files:\n${options.ruleFiles.map((rule) => `  - ${JSON.stringify(rule)}\n`).join("")}` +
          `scrape_configs:\n  - job_name: payrecon\n    static_configs:\n      - targets: ${JSON.stringify(options.targets)}\n`,
      );
      return [
        `--config.file=${file}`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-lifecycle",
      ];
    },
    "/-/ready",
  );
}

export interface AlertmanagerAlertView {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
  startsAt: string;
  endsAt: string;
}

export async function alertmanagerAlerts(url: string): Promise<AlertmanagerAlertView[]> {
  const response = await fetch(`${url}/api/v2/alerts?active=true&silenced=false&inhibited=true`);
  return (await response.json()) as AlertmanagerAlertView[];
}

/** A minimal Alertmanager config: everything to a receiver nobody listens to (the API is what tests read). */
export const SINK_ALERTMANAGER_CONFIG = `route:
  receiver: sink
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
`;
