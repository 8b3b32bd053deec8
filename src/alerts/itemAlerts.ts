import { pushTo } from "../grouping.js";
import type pg from "pg";
import { type AtRiskPayment, largePaymentsAtRisk } from "../db/queries/itemAlerts.js";
import type { Logger } from "../logger.js";
import { currencyExponent, formatMajor } from "../messages/currencies.js";
import type { Metrics } from "../metrics/registry.js";
import { runbookUrl } from "./promql.js";

/**
 * Item-level alerts: a large payment (per-currency threshold) that fails, is
 * held or is delayed is pushed to Alertmanager's API v2, re-sent every
 * interval while it stays at risk, and resolved when it recovers.
 *
 * Labels stay bounded (alertname, severity, status, direction, gateway,
 * currency, failure_category): Alertmanager identifies an alert by its
 * labels, so the payments sharing one label set form one alert whose
 * annotations list them — payment id, counterparty and amount — largest
 * first. A bucket that empties is resolved.
 */

export const ITEM_ALERT_NAME = "PayreconLargePaymentAtRisk";
const LISTED = 20;

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

export interface ItemAlertOptions {
  alertmanagerUrl: string;
  minAmountMajor: Record<string, number>;
  intervalMs: number;
  /** Where docs/runbooks/ is published (RUNBOOK_BASE_URL): the same base as the generated rules' links. */
  runbookBaseUrl: string;
}

function thresholdMinor(minAmountMajor: Record<string, number>, currency: string): number {
  const major = minAmountMajor[currency] ?? minAmountMajor["*"] ?? Number.POSITIVE_INFINITY;
  return Math.ceil(major * 10 ** currencyExponent(currency));
}

/** Pure: the alerts for these payments at `now` (endsAt a few intervals ahead, so a dead payrecon's alerts expire). */
export function bucketAlerts(
  payments: AtRiskPayment[],
  options: Pick<ItemAlertOptions, "minAmountMajor" | "intervalMs" | "runbookBaseUrl">,
  now: Date,
): AlertmanagerAlert[] {
  const buckets = new Map<string, AtRiskPayment[]>();
  for (const payment of payments) {
    if (payment.at_risk_minor < thresholdMinor(options.minAmountMajor, payment.currency)) continue;
    const key = [
      payment.status,
      payment.direction,
      payment.gateway,
      payment.currency,
      payment.failure_category ?? "none",
    ].join("|");
    pushTo(buckets, key, payment);
  }
  const endsAt = new Date(now.getTime() + 4 * options.intervalMs).toISOString();
  return [...buckets.values()].map((items) => {
    const first = items[0]!;
    const total = items.reduce((sum, item) => sum + item.at_risk_minor, 0);
    const startsAt = new Date(Math.min(...items.map((item) => item.status_since.getTime()))).toISOString();
    const listed = [...items]
      .sort((a, b) => b.at_risk_minor - a.at_risk_minor || a.id.localeCompare(b.id))
      .slice(0, LISTED)
      .map(
        (item) =>
          `${item.id} (counterparty ${item.counterparty ?? "unknown"}): ${formatMajor(item.at_risk_minor, item.currency)} ${item.currency}` +
          `${item.failure_code ? `, ${item.failure_code}` : item.hold_reason ? `, ${item.hold_reason}` : ""}`,
      );
    return {
      labels: {
        alertname: ITEM_ALERT_NAME,
        severity: first.status === "delayed" ? "warning" : "critical",
        status: first.status,
        direction: first.direction,
        gateway: first.gateway,
        currency: first.currency,
        failure_category: first.failure_category ?? "none",
      },
      annotations: {
        summary: "A large payment is failed, held or delayed.",
        description:
          `${items.length} ${first.direction}${items.length === 1 ? "" : "s"} at ${first.gateway} ${first.status}` +
          `${first.failure_category ? ` (${first.failure_category})` : ""}: ${formatMajor(total, first.currency)} ${first.currency} at risk.`,
        payments: listed.join("\n") + (items.length > LISTED ? `\n… and ${items.length - LISTED} more` : ""),
        payment_ids: items
          .map((item) => item.id)
          .slice(0, LISTED)
          .join(","),
        count: String(items.length),
        amount: `${formatMajor(total, first.currency)} ${first.currency}`,
        runbook_url: runbookUrl(ITEM_ALERT_NAME, options.runbookBaseUrl),
      },
      startsAt,
      endsAt,
    };
  });
}

export class ItemAlerter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Label sets sent last time, to resolve buckets that emptied. */
  private active = new Map<string, AlertmanagerAlert>();
  private soon: NodeJS.Timeout | undefined;
  private lastPush = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: ItemAlertOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  push(now = new Date()): Promise<void> {
    if (!this.running) {
      this.running = this.send(now).finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async send(now: Date): Promise<void> {
    // The default (*) applies to any currency, so its smallest minor amount is the major amount itself (0 decimals).
    const smallest = Math.min(
      ...Object.entries(this.options.minAmountMajor).map(([currency, major]) =>
        currency === "*" ? major : thresholdMinor(this.options.minAmountMajor, currency),
      ),
    );
    const payments = await largePaymentsAtRisk(this.pool, Math.max(0, Math.floor(smallest)), 10_000);
    // Gateway names are producers' free text: bounded like metric labels, so the alerts are too.
    const bounded = payments.map((payment) => ({ ...payment, gateway: this.metrics.labels.gateway(payment.gateway) }));
    const alerts = bucketAlerts(bounded, this.options, now);
    const current = new Map(alerts.map((alert) => [JSON.stringify(alert.labels), alert]));
    const resolved = [...this.active]
      .filter(([key]) => !current.has(key))
      .map(([, alert]) => ({ ...alert, endsAt: now.toISOString() }));
    const body = [...alerts, ...resolved];
    if (body.length > 0) {
      const response = await fetch(new URL("/api/v2/alerts", this.options.alertmanagerUrl), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) throw new Error(`Alertmanager answered ${response.status}`);
    }
    this.active = current;
    this.metrics.itemAlertsActive.set(alerts.reduce((sum, alert) => sum + Number(alert.annotations.count), 0));
  }

  /** Soon after a change, but at most every two seconds however busy ingestion is. */
  pushSoon(): void {
    if (this.soon) return;
    const wait = Math.max(0, this.lastPush + 2_000 - Date.now());
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.lastPush = Date.now();
      this.push().catch((error) => this.log.warn({ err: error }, "item alerts not delivered; will retry"));
    }, wait);
    this.soon.unref();
  }

  start(): void {
    if (this.timer) return;
    const tick = () =>
      this.push().catch((error) => this.log.warn({ err: error }, "item alerts not delivered; will retry"));
    void tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}
