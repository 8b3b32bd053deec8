/**
 * `npm run demo`: payrecon on embedded PostgreSQL (no Kafka, no servers to
 * install) plus the simulator with scripted incidents, then where to look.
 * The daemon keeps running until Ctrl-C.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tokens = { viewer: "demo-viewer", operator: "demo-operator", ingester: "demo-ingester" };

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

const port = Number(process.env.DEMO_PORT ?? ((await portFree(8080)) ? 8080 : 8090));
const base = `http://localhost:${port}`;
const env = {
  ...process.env,
  DATA_DIR: process.env.DATA_DIR ?? path.join(root, ".payrecon-demo"),
  HTTP_PORT: String(port),
  API_TOKENS: Object.entries(tokens)
    .map(([role, token]) => `${role}:${token}`)
    .join(","),
  // Demo time runs fast: sweeps every 2 s, unexpected bank lines become exceptions after 20 s.
  SWEEP_INTERVAL: "2s",
  UNMATCHED_GRACE: "20s",
  ITEM_ALERT_MIN_AMOUNT: "*:1000",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
};
delete (env as Record<string, string | undefined>).KAFKA_BROKERS;

const say = (line: string) => process.stdout.write(`${line}\n`);
say(`payrecon demo: starting the daemon on ${base} (embedded PostgreSQL in ${env.DATA_DIR}) …`);
const began = Date.now();
const daemon = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
  cwd: root,
  env,
  stdio: "inherit",
});
const stop = () => {
  daemon.kill("SIGTERM");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
daemon.on("exit", (code) => process.exit(code ?? 0));

for (;;) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    // not listening yet
  }
  if (Date.now() - began > 120_000) {
    say("the daemon did not become ready within 2 minutes");
    stop();
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
say(`ready in ${((Date.now() - began) / 1000).toFixed(1)} s; sending simulated traffic with incidents …\n`);

await new Promise<void>((resolve, reject) => {
  const simulate = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/main.ts",
      "simulate",
      "--payments",
      "1500",
      "--wave",
      "250",
      "--rate",
      "600",
      "--url",
      base,
    ],
    { cwd: root, env, stdio: "inherit" },
  );
  simulate.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`simulate exited ${code}`))));
});

say(`
Where to look (the daemon keeps running; Ctrl-C stops it):
  status page   ${base}/?token=${tokens.viewer}
  exceptions    curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/exceptions?state=open&limit=5'
  a payment     curl -H 'Authorization: Bearer ${tokens.viewer}' ${base}/api/v1/payments/s1w2_1
  report (csv)  curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/reports/reconciliation?from=2000-01-01&format=csv'
  report (cli)  DATA_DIR=${env.DATA_DIR} npx tsx src/main.ts report --from 2000-01-01 --format md
  metrics       ${base}/metrics   (payrecon_funds_at_risk, payrecon_payout_failures_total, …)
  API document  ${base}/api/v1/openapi.json
Tokens: viewer ${tokens.viewer}, operator ${tokens.operator} (acknowledge/resolve exceptions), ingester ${tokens.ingester}.
Unexpected bank lines turn into 'unmatched' exceptions after 20 s.`);
