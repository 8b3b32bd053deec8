import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allMonitoringExpressions } from "../support/monitoringExpressions.js";
import { alertNames } from "../../src/alerts/rules.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { startTestDaemon, type TestDaemon, waitUntil } from "../support/daemon.js";
import { connectedProducer, kafkaEnv, uniqueTopics } from "../support/kafka.js";
import { alertmanagerAlerts, type Server, startAlertmanager, startPrometheus } from "../support/monitoring.js";

/**
 * Issue 4 end to end: a real Prometheus scrapes a running daemon with the
 * generated rule file and alerts a real Alertmanager (the example config).
 * A payout-failure incident and a held-funds build-up driven through Kafka
 * fire their alerts, with runbook links; recovery resolves them. Every PromQL
 * expression of the rules and dashboards runs in that Prometheus and names
 * only metrics the daemon exports.
 *
 * The rules are loaded as generated except `for:`, cut to 1s: the waiting
 * each alert does is covered by the promtool unit tests, here it is the wiring.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const RULES = path.join(root, "deploy/prometheus/rules/payrecon.rules.yml");

describe("alerts end to end", () => {
  const topics = uniqueTopics();
  let db: TestDatabase;
  let daemon: TestDaemon;
  let prometheus: Server;
  let alertmanager: Server;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const day = (ms: number) => iso(ms).slice(0, 10);

  beforeAll(async () => {
    db = await createTestDatabase();
    alertmanager = await startAlertmanager(
      readFileSync(path.join(root, "deploy/alertmanager/alertmanager.yml"), "utf8").replace(
        /group_wait: \S+/g,
        "group_wait: 0s",
      ),
    );
    daemon = await startTestDaemon({
      DATABASE_URL: db.url,
      ...kafkaEnv(topics),
      ALERTMANAGER_URL: alertmanager.url,
      ITEM_ALERT_INTERVAL: "1s",
      ITEM_ALERT_MIN_AMOUNT: "EUR:100",
    });
    const dir = mkdtempSync(path.join(tmpdir(), "rules-"));
    const rules = path.join(dir, "payrecon.rules.yml");
    writeFileSync(rules, readFileSync(RULES, "utf8").replace(/^(\s+)for: \S+$/gm, "$1for: 1s"));
    prometheus = await startPrometheus({
      targets: [new URL(daemon.baseUrl).host],
      ruleFiles: [rules],
      alertmanager: alertmanager.url,
    });
    // Counters must be seen at zero before the traffic, or rate() has nothing to compare with.
    await waitUntil(
      async () => {
        const query = encodeURIComponent('count_over_time(up{job="payrecon"}[1m]) >= 3');
        const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=${query}`)).json()) as {
          data: { result: unknown[] };
        };
        return body.data.result.length > 0;
      },
      60_000,
      "Prometheus scraping the daemon",
    );
  });
  afterAll(async () => {
    await prometheus?.stop();
    await daemon?.stop();
    await alertmanager?.stop();
    await db?.drop();
  });

  const payout = (id: string, gateway: string) => ({
    id,
    direction: "payout",
    amount_minor: 20_000,
    currency: "EUR",
    gateway,
    reference: id,
    counterparty: `cp_${id}`,
    created_at: iso(now - 86_400_000),
    due_at: iso(now + 86_400_000),
  });
  const event = (id: string, gateway: string, type: string, extra: object = {}) => ({
    event_id: `${type}-${id}`,
    gateway,
    type,
    reference: id,
    amount_minor: 20_000,
    currency: "EUR",
    occurred_at: iso(Date.now() - 1_000),
    ...extra,
  });
  const debit = (id: string) => ({
    entry_id: `debit-${id}`,
    bank: "bank_a",
    account: "DE00",
    direction: "debit",
    amount_minor: 20_000,
    currency: "EUR",
    booking_date: day(now),
    value_date: day(now),
    status: "booked",
    end_to_end_id: id,
  });

  async function send(expected: object[], events: object[], entries: object[]) {
    const producer = await connectedProducer();
    const json = (m: object) => ({ value: JSON.stringify(m) });
    await producer.sendBatch({
      topicMessages: [
        { topic: topics.expected, messages: expected.map(json) },
        { topic: topics.gateway, messages: events.map(json) },
        { topic: topics.bank, messages: entries.map(json) },
      ],
    });
    await producer.disconnect();
  }

  const firing = async (name: string) =>
    (await alertmanagerAlerts(alertmanager.url)).filter((alert) => alert.labels.alertname === name);

  it("fires the payout-failure and held-funds alerts in Alertmanager, with runbooks, then resolves them", async () => {
    // Healthy traffic first: 10 payouts paid at adyen.
    const healthy = Array.from({ length: 10 }, (_, i) => `ok_${i}`);
    await send(
      healthy.map((id) => payout(id, "adyen")),
      healthy.map((id) => event(id, "adyen", "payout.paid")),
      healthy.map(debit),
    );
    // The incident: 40 payouts failing at adyen, 5 held for review at stripe.
    const failing = Array.from({ length: 40 }, (_, i) => `fail_${i}`);
    const held = Array.from({ length: 5 }, (_, i) => `held_${i}`);
    const incidentAt = Date.now();
    await send(
      [...failing.map((id) => payout(id, "adyen")), ...held.map((id) => payout(id, "stripe"))],
      [
        ...failing.map((id) => event(id, "adyen", "payout.failed", { failure_code: "could_not_process" })),
        ...held.map((id) => event(id, "stripe", "payout.held", { hold_reason: "compliance_review" })),
      ],
      [],
    );
    const burn = await waitUntil(
      async () => (await firing("PayreconPayoutErrorBudgetBurn")).find((a) => a.labels.long === "1h"),
      120_000,
      "PayreconPayoutErrorBudgetBurn in Alertmanager",
    );
    const burnSeconds = (Date.now() - incidentAt) / 1000;
    const heldAlert = await waitUntil(
      async () => (await firing("PayreconFundsHeld"))[0],
      120_000,
      "PayreconFundsHeld in Alertmanager",
    );
    const item = await waitUntil(
      async () => (await firing("PayreconLargePaymentAtRisk")).find((a) => a.labels.status === "failed"),
      60_000,
      "the item-level alert",
    );
    for (const alert of [burn, heldAlert, item]) {
      const name = alert.labels.alertname!;
      expect(alert.annotations.runbook_url).toMatch(new RegExp(`/docs/runbooks/${name}\\.md$`));
      expect(existsSync(path.join(root, "docs/runbooks", `${name}.md`)), name).toBe(true);
      expect(alert.annotations.summary).toBeTruthy();
    }
    expect(heldAlert.labels).toMatchObject({ severity: "warning", direction: "payout", currency: "EUR" });
    expect(heldAlert.annotations.description).toMatch(/1000/);
    console.log(JSON.stringify({ secondsFromFailingEventsToBurnAlert: burnSeconds }));

    // Recovery: the holds are released and paid, and payouts flow again.
    const recovered = Array.from({ length: 400 }, (_, i) => `again_${i}`);
    await send(
      recovered.map((id) => payout(id, "adyen")),
      [
        ...recovered.map((id) => event(id, "adyen", "payout.paid")),
        ...held.map((id) => event(id, "stripe", "payout.released")),
        ...held.map((id) => event(id, "stripe", "payout.paid", { occurred_at: iso(Date.now()) })),
      ],
      [...recovered.map(debit), ...held.map(debit)],
    );
    await waitUntil(
      async () => (await firing("PayreconFundsHeld")).length === 0,
      120_000,
      "PayreconFundsHeld resolved",
    );
    // The fast burn (1h/5m) that paged resolves; the slower windows keep burning for hours, by design.
    await waitUntil(
      async () => !(await firing("PayreconPayoutErrorBudgetBurn")).some((a) => a.labels.long === "1h"),
      120_000,
      "the fast-burn page resolved",
    );
    expect(burn.labels.severity).toBe("critical");
  }, 400_000);

  it("runs every rule and dashboard expression, each naming only metrics the daemon exports", async () => {
    const exported = new Set(
      [...(await (await fetch(`${daemon.baseUrl}/metrics`)).text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(
        ([, name, type]) =>
          type === "histogram"
            ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
            : type === "summary"
              ? [`${name}_sum`, `${name}_count`, name!]
              : [name!],
      ),
    );
    const recorded = new Set([...readFileSync(RULES, "utf8").matchAll(/record: (\S+)/g)].map((m) => m[1]!));
    const problems: string[] = [];
    for (const { source, expr } of allMonitoringExpressions()) {
      const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as { status: string; error?: string };
      if (body.status !== "success") problems.push(`${source}: ${body.error}`);
      // Strings and recording-rule names (level:metric:operations) hold no exported metric names.
      const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/[a-zA-Z_][\w]*:[\w:]+/g, (name) => {
        if (!recorded.has(name)) problems.push(`${source}: recording rule ${name} is not defined`);
        return "";
      });
      for (const [name] of bare.matchAll(/\b(?:payrecon|process|nodejs)_[a-z0-9_]+\b/g)) {
        if (!exported.has(name) && !recorded.has(name)) problems.push(`${source}: ${name} is not exported`);
      }
    }
    expect(problems).toEqual([]);
    expect(alertNames().length).toBeGreaterThan(10);
  });
});
