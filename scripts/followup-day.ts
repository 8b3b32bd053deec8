/**
 * `npx tsx scripts/followup-day.ts [--payments N]`: one realistic day of follow-up (issue 21), measured.
 * Runs payrecon in this process (embedded PostgreSQL in a temporary DATA_DIR, or DATABASE_URL) on an injected
 * clock, sends a simulated day (src/simulate/scenario.ts, 2,000 payments by default) over HTTP ingest, records the
 * scenario's two dunning contacts (one promise already passed), then runs the follow-up hour by hour through the
 * next 24 hours (reminder steps, the broken promise, the 06:00 daily report). Notifications go to a webhook
 * receiver started here that answers 500 for the first 5 s, then hangs past NOTIFY_TIMEOUT for 5 s, then recovers.
 * Prints the notifications by kind and the failing receiver's delivery log.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.js";
import { startDaemon } from "../src/daemon.js";
import { verifyNotification } from "../src/followup/signature.js";
import { createLogger } from "../src/logger.js";
import { recordContacts } from "../src/simulate/contacts.js";
import { generateScenario } from "../src/simulate/scenario.js";

const { values } = parseArgs({ options: { payments: { type: "string" } } });
const PAYMENTS = Number(values.payments ?? 2_000);
const SECRET = "whsec_followup_day";
const HOUR = 3_600_000;
const say = (line: string) => process.stdout.write(`${line}\n`);

// The receiver: 500, then no answer, then 200 — by time since its first request.
let first = 0;
const received = { total: 0, ok: 0, badSignature: 0, ids: new Set<string>() };
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    first ||= Date.now();
    received.total++;
    if (!verifyNotification(body, String(req.headers["payrecon-signature"] ?? ""), SECRET)) received.badSignature++;
    const since = Date.now() - first;
    if (since < 5_000) return void res.writeHead(500).end("down");
    if (since < 10_000) return; // hangs: the sender times out
    received.ok++;
    received.ids.add(JSON.parse(body).id);
    res.writeHead(200).end("ok");
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

const dataDir = mkdtempSync(path.join(tmpdir(), "payrecon-followup-day-"));
// The injected clock runs at the real pace (retries need time to pass) and jumps an hour at a time below.
let offset = 0;
const clock = () => new Date(Date.now() + offset);
const config = loadConfig({
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  DATA_DIR: dataDir,
  HTTP_PORT: "0",
  API_TOKENS: "viewer:v,operator:o,ingester:i",
  LOG_LEVEL: "silent",
  SWEEP_INTERVAL: "1h",
  FOLLOWUP_INTERVAL: "1h",
  NOTIFY_WEBHOOK_URLS: receiverUrl,
  NOTIFY_WEBHOOK_SECRET: SECRET,
  NOTIFY_TIMEOUT: "1s",
  NOTIFY_RETRY_MIN: "500ms",
  NOTIFY_RETRY_MAX: "2s",
  REPORT_SCHEDULE: "daily@06:00",
});
const daemon = await startDaemon(config, createLogger("silent"), { clock });
const base = `http://127.0.0.1:${daemon.httpPort}`;
try {
  const scenario = generateScenario({ seed: 21, now: Date.now(), payments: PAYMENTS });
  const post = async (topic: string, lines: unknown[]) => {
    for (let i = 0; i < lines.length; i += 2_000) {
      const response = await fetch(`${base}/api/v1/ingest/${topic}`, {
        method: "POST",
        headers: { Authorization: "Bearer i" },
        body: lines
          .slice(i, i + 2_000)
          .map((line) => JSON.stringify(line))
          .join("\n"),
      });
      if (!response.ok) throw new Error(`ingest ${topic}: ${response.status}`);
    }
  };
  await post("payments.expected", scenario.expected);
  await post("gateway.events", scenario.events);
  await post("bank.settlements", scenario.entries);
  const contacts = await recordContacts(base, "o", scenario.contacts, 30_000);
  say(
    `day: ${PAYMENTS} payments; contacts: ${contacts.map((c) => `${c.payment_id} by ${c.promised_by} (${c.result})`).join("; ")}`,
  );
  // The next 24 hours, an hour at a time.
  // Each hour's notifications are delivered before the clock moves on: the receiver's outage lasts 10 real seconds,
  // not a simulated day (which would pass NOTIFY_RETRY_FOR and give them up).
  const drained = async () => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { rows } = await daemon.pool.query<{ n: number }>(
        "select count(*)::int as n from notification_deliveries where state <> 'delivered'",
      );
      if (rows[0]!.n === 0 || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  for (let hour = 0; hour <= 24; hour++) {
    if (hour > 0) offset += HOUR;
    await daemon.followUp.runOnce();
    await drained();
  }
  const { rows: stored } = await daemon.pool.query<{ n: number }>("select count(*)::int as n from notifications");
  const byKind = await daemon.pool.query<{ kind: string; n: number }>(
    "select kind, count(*)::int as n from notifications group by kind order by n desc, kind",
  );
  say(`\nnotifications stored over the day: ${stored[0]!.n}`);
  for (const row of byKind.rows) say(`  ${row.kind.padEnd(22)} ${row.n}`);
  const log = await daemon.pool.query<{ result: string; error: string | null; n: number }>(
    `select result, coalesce(error, '') as error, count(*)::int as n from notification_attempts
      group by 1, 2 order by 1, 2`,
  );
  say(`\ndelivery attempts to the failing receiver (500 for 5 s, no answer for 5 s, then 200):`);
  for (const row of log.rows) say(`  ${row.result.padEnd(9)} ${(row.error || "HTTP 200").padEnd(28)} ${row.n}`);
  say(
    `receiver: ${received.total} requests, ${received.ok} answered 200, ${received.ids.size} distinct notifications delivered, ${received.badSignature} bad signatures`,
  );
  // The notification that needed the most attempts, as the API's delivery log shows it.
  const { rows: worst } = await daemon.pool.query<{ id: number }>(
    `select d.notification_id as id from notification_deliveries d order by d.attempts desc, d.notification_id limit 1`,
  );
  if (worst[0]) {
    const response = await fetch(`${base}/api/v1/notifications/${worst[0].id}`, {
      headers: { Authorization: "Bearer v" },
    });
    const item = (await response.json()) as {
      id: string;
      kind: string;
      payment_id: string | null;
      deliveries: unknown[];
    };
    say(`\nGET /api/v1/notifications/${item.id} (${item.kind}, payment ${item.payment_id}): its delivery log`);
    say(JSON.stringify(item.deliveries, null, 2));
  }
  const metrics = await (await fetch(`${base}/metrics`)).text();
  say("\nmetrics:");
  for (const line of metrics.split("\n").filter((l) => l.startsWith("payrecon_notifications_total"))) say(`  ${line}`);
} finally {
  await daemon.stop();
  receiver.closeAllConnections();
  receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
}
