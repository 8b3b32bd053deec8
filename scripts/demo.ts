/**
 * `npm run demo`: payrecon on embedded PostgreSQL (no Kafka, no servers to
 * install), then simulated traffic with four scripted incidents, and where
 * the status page names each of them. The daemon keeps running until Ctrl-C.
 *
 * HTTP_PORT chooses the port (DEMO_PORT is still read, deprecated); DATA_DIR
 * the data directory. Ctrl-C once stops the daemon gracefully; once more,
 * at least a second later, forces it.
 *
 * Follow-up (CONTRACT §9) is part of it: notifications go to a webhook receiver this script runs, which
 * refuses them for its first 30 seconds and then recovers (the delivery log shows the retries), and the
 * simulator, signed in as the operator, records two contacts on the dunning list, one with a promise already
 * broken.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tokens = { viewer: "demo-viewer", operator: "demo-operator", ingester: "demo-ingester" };
const say = (line: string) => process.stdout.write(`${line}\n`);

async function listenable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, "0.0.0.0", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

async function choosePort(): Promise<number> {
  if (process.env.HTTP_PORT) return Number(process.env.HTTP_PORT);
  if (process.env.DEMO_PORT) {
    say("DEMO_PORT is deprecated: set HTTP_PORT, as for the daemon itself.");
    return Number(process.env.DEMO_PORT);
  }
  // 8080 (the daemon's default) when free, otherwise any free port.
  return (await listenable(8080)) ?? (await listenable(0)) ?? 8090;
}

const port = await choosePort();
const base = `http://localhost:${port}`;

// A CRM or chat bridge that is down for the demo's first 30 s: notifications wait and are retried, none lost.
const RECEIVER_DOWN_MS = 30_000;
const receiverUp = Date.now() + RECEIVER_DOWN_MS;
const received = { refused: 0, delivered: 0 };
const receiver = createHttpServer((request, response) => {
  request.resume();
  request.on("end", () => {
    const up = Date.now() >= receiverUp;
    if (up) received.delivered++;
    else received.refused++;
    response.writeHead(up ? 204 : 503).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
receiver.unref();
const receiverAddress = receiver.address();
const receiverUrl = `http://127.0.0.1:${typeof receiverAddress === "object" && receiverAddress ? receiverAddress.port : 0}/payrecon`;

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
  // Follow-up at demo speed: reminders and promises checked every 5 s, retries from 2 s, a daily report stored.
  NOTIFY_WEBHOOK_URLS: receiverUrl,
  NOTIFY_WEBHOOK_SECRET: "demo-webhook-secret",
  NOTIFY_RETRY_MIN: "2s",
  NOTIFY_RETRY_MAX: "10s",
  FOLLOWUP_INTERVAL: "5s",
  REPORT_SCHEDULE: "daily@06:00",
};
delete (env as Record<string, string | undefined>).KAFKA_BROKERS;
delete (env as Record<string, string | undefined>).DEMO_PORT;

// Four incidents over six waves of 250 payments, each wave one generated day.
const INCIDENTS = [
  {
    spec: "gateway_outage@2:adyen",
    name: "adyen payout outage",
    where: 'Attention: "adyen: …% of payouts failed"; Trends: "Payout failures by gateway" (adyen line)',
  },
  {
    spec: "hold_wave@3:stripe",
    name: "compliance hold wave at stripe",
    where: 'Attention: "stripe: … payouts held"; Funds at risk: held (unsettled)',
  },
  {
    spec: "bad_data@4",
    name: "bad account data upstream",
    where: 'Attention: "… payouts failed for account_invalid … the account data must be fixed before a retry"',
  },
  {
    spec: "statement_missing@5",
    name: "bank statement never arrives (bank_a, wave 5)",
    where:
      'Attention, once the next statement arrives: "… bank statements not continuing the previous one (statement_gap …)"; exceptions of kind statement_gap',
  },
];

say(`payrecon demo: starting the daemon on ${base} (embedded PostgreSQL in ${env.DATA_DIR}) …`);
const began = Date.now();
// Own process groups: a terminal's Ctrl-C reaches this script only, which stops the children once, in order.
const daemon = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
  cwd: root,
  env,
  stdio: "inherit",
  detached: true,
});
let simulate: ChildProcess | undefined;
let firstSignalAt: number | undefined;

const onSignal = (signal: NodeJS.Signals) => {
  const now = Date.now();
  if (firstSignalAt === undefined) {
    firstSignalAt = now;
    say(`\n${signal}: stopping the daemon gracefully (Ctrl-C again to force) …`);
    simulate?.kill("SIGTERM");
    daemon.kill("SIGTERM");
    return;
  }
  // npm and tsx pass a terminal's Ctrl-C on as well: copies within a second are the same Ctrl-C.
  if (now - firstSignalAt < 1_000) return;
  say(`${signal} again: forcing the daemon to exit`);
  daemon.kill("SIGTERM");
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
daemon.on("exit", (code, signal) => {
  simulate?.kill("SIGTERM");
  if (firstSignalAt !== undefined)
    say(code === 0 ? "payrecon demo: stopped." : `the daemon exited (${code ?? signal})`);
  process.exit(code ?? 1);
});

for (;;) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    // not listening yet
  }
  if (firstSignalAt !== undefined) await new Promise(() => {});
  if (Date.now() - began > 120_000) {
    say("the daemon did not become ready within 2 minutes");
    daemon.kill("SIGTERM");
    await new Promise(() => {});
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}

say(`ready in ${((Date.now() - began) / 1000).toFixed(1)} s.

Status page: ${base}/?window=1h
  The public view shows totals, trends and freshness. To see payments and exceptions, sign in:
  open ${base}/login and, when the browser asks, give any user name and the password ${tokens.viewer}
  (or ${tokens.operator} to acknowledge and resolve exceptions). Tokens are never put in URLs.

Sending simulated traffic for about a minute and a half (6 waves of 250 payments), with four incidents;
where the status page names each:
${INCIDENTS.map((incident, i) => `  ${i + 1}. ${incident.name} [${incident.spec}]\n     ${incident.where}`).join("\n")}
  Stray bank credits nobody expected turn into 'unmatched' exceptions after 20 s.

Follow-up: notifications (reminders due, exceptions opened, a broken promise, retry suggestions, the daily
report) go to a webhook receiver this script runs at ${receiverUrl}; it refuses them for its first 30 s, then
recovers. The simulator, as the operator, records two contacts, one with a promise already broken.
  dunning       ${base}/dunning (signed in): today's reminders and running promises
  deliveries    curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/notifications?state=failed'
                (failed attempts while the receiver is down; empty once it has recovered)
  promise       curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/notifications?kind=promise_broken'
  credit        curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/counterparties?sort=risk&limit=5'
  reports       curl -H 'Authorization: Bearer ${tokens.viewer}' ${base}/api/v1/reports

From a terminal (bearer tokens):
  exceptions    curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/exceptions?state=open&limit=5'
  a payment     curl -H 'Authorization: Bearer ${tokens.viewer}' ${base}/api/v1/payments/s1w2_1
  report (csv)  curl -H 'Authorization: Bearer ${tokens.viewer}' '${base}/api/v1/reports/reconciliation?from=2000-01-01&format=csv'
  report (cli)  DATA_DIR=${env.DATA_DIR} npx tsx src/main.ts report --from 2000-01-01 --format md
  metrics       ${base}/metrics   (payrecon_funds_at_risk, payrecon_payout_failures_total, …)
  API document  ${base}/api/v1/openapi.json
Ctrl-C stops the daemon gracefully (a second Ctrl-C forces it).
`);

simulate = spawn(
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
    "50",
    "--statements",
    "--incidents",
    INCIDENTS.map((incident) => incident.spec).join(","),
    "--url",
    base,
  ],
  { cwd: root, env, stdio: "inherit", detached: true },
);
simulate.on("exit", (code) => {
  if (firstSignalAt !== undefined) return;
  say(
    code === 0
      ? `\nTraffic sent. The daemon keeps running: ${base}/?window=1h (Ctrl-C stops it).`
      : `\nsimulate exited ${code}; the daemon keeps running (Ctrl-C stops it).`,
  );
  say(`webhook receiver so far: ${received.refused} deliveries refused while down, ${received.delivered} accepted.`);
});
