import { EXCEPTION_KINDS } from "../reconcile/types.js";
import { stripePayoutsWaitingSummary } from "../db/queries/stripePayouts.js";
import { batchFeeTotals } from "../db/queries/reports.js";
import type { FeeRule } from "../reconcile/fees.js";
import type pg from "pg";
import { oldestUnpublishedFinding } from "../db/queries/findings.js";
import { exceptionAggregates, oldestUnsettled, paymentTotals } from "../db/queries/gauges.js";
import type { Logger } from "../logger.js";
import { formatMajor, isCurrency } from "../messages/currencies.js";
import { initGatewaySeries, type Metrics } from "./registry.js";

const AT_RISK = new Set(["failed", "held", "delayed", "mismatch"]);
const PRIORITIES = ["p1", "p2", "p3"] as const;

/**
 * payrecon_funds_at_risk in major units, one sample per status × direction × currency (every at-risk status
 * present, at zero, for each direction/currency seen, so alerts compare against 0, not absence). The gateways'
 * amounts are added in integer minor units and divided once: adding major-unit floats gave 29906.989999999998.
 */
export function fundsAtRiskSamples(
  totals: Array<{ status: string; direction: string; currency: string; at_risk_minor: number | string }>,
): Array<{ labels: { status: string; direction: string; currency: string }; value: number }> {
  const minor = new Map<string, { labels: { status: string; direction: string; currency: string }; sum: bigint }>();
  const add = (status: string, direction: string, currency: string, amount: bigint) => {
    const key = `${status}\u0000${direction}\u0000${currency}`;
    const entry = minor.get(key) ?? { labels: { status, direction, currency }, sum: 0n };
    entry.sum += amount;
    minor.set(key, entry);
  };
  for (const row of totals) {
    for (const status of AT_RISK) add(status, row.direction, row.currency, 0n);
    if (AT_RISK.has(row.status)) add(row.status, row.direction, row.currency, BigInt(row.at_risk_minor));
  }
  return [...minor.values()].map(({ labels, sum }) => ({
    labels,
    value: isCurrency(labels.currency) ? Number(formatMajor(sum, labels.currency)) : Number(sum),
  }));
}

/** The shortest time between two refreshes asked for by committed batches (refreshSoon). */
const MIN_GAP_MS = 1_000;

/**
 * Keeps the state gauges equal to the database, which every instance writes:
 * a few indexed aggregate queries every couple of seconds (and right after
 * each batch), never a scan per scrape.
 */
export class GaugeRefresher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private queued = false;
  private failing = false;
  /** When the last refresh began (performance.now()): refreshSoon spaces them by MIN_GAP_MS. */
  private lastBegan = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly pool: pg.Pool,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly intervalMs = 2_000,
    /** FEE_SCHEDULE, for payrecon_batch_fees_minor{kind="expected"}. */
    private readonly feeSchedule: readonly FeeRule[] = [],
  ) {}

  refresh(): Promise<void> {
    if (!this.running) {
      this.lastBegan = performance.now();
      this.running = this.read()
        .then(() => {
          this.failing = false;
        })
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  private async read(): Promise<void> {
    const now = new Date();
    const [totals, exceptions, stripeWaiting, fees, unpublished] = await Promise.all([
      paymentTotals(this.pool),
      exceptionAggregates(this.pool, now),
      stripePayoutsWaitingSummary(this.pool),
      batchFeeTotals(this.pool, this.feeSchedule),
      oldestUnpublishedFinding(this.pool),
    ]);
    const pairs = new Map<string, { gateway: string; direction: string }>();
    for (const row of totals) pairs.set(`${row.gateway}\u0000${row.direction}`, row);
    const oldest = await oldestUnsettled(this.pool, [...pairs.values()]);

    const { metrics } = this;
    metrics.stripePayoutsWaiting.set(stripeWaiting.count);
    metrics.findingsUnpublishedAge.set(unpublished ? Math.max(0, (now.getTime() - unpublished.getTime()) / 1000) : 0);
    metrics.batchFees.reset();
    for (const row of fees) {
      const labels = { gateway: metrics.labels.gateway(row.gateway), currency: row.currency };
      metrics.batchFees.inc({ ...labels, kind: "charged" }, row.charged_minor);
      if (row.expected_minor !== null) metrics.batchFees.inc({ ...labels, kind: "expected" }, row.expected_minor);
    }
    metrics.payments.reset();
    metrics.fundsAtRisk.reset();
    for (const row of totals) {
      metrics.payments.inc(
        { status: row.status, direction: row.direction, gateway: metrics.labels.gateway(row.gateway) },
        row.count,
      );
    }
    for (const sample of fundsAtRiskSamples(totals)) metrics.fundsAtRisk.set(sample.labels, sample.value);
    metrics.oldestUnsettledAge.reset();
    // Gateways past the label bound share `other`: the oldest of them is its age.
    const ages = new Map<string, { gateway: string; direction: string; age: number }>();
    for (const row of oldest) {
      const gateway = metrics.labels.gateway(row.gateway);
      const age = row.created_at ? Math.max(0, (now.getTime() - row.created_at.getTime()) / 1000) : 0;
      const key = `${gateway}\u0000${row.direction}`;
      if (age >= (ages.get(key)?.age ?? -1)) ages.set(key, { gateway, direction: row.direction, age });
    }
    for (const { gateway, direction, age } of ages.values())
      metrics.oldestUnsettledAge.set({ gateway, direction }, age);
    metrics.exceptionsOpen.reset();
    metrics.exceptionsOverdue.reset();
    metrics.unmatchedBankEntries.reset();
    // Zero series for every kind and priority: alerts compare against 0, never against absence.
    for (const kind of EXCEPTION_KINDS) {
      metrics.exceptionsOverdue.set({ kind }, 0);
      for (const priority of PRIORITIES) metrics.exceptionsOpen.set({ kind, priority }, 0);
    }
    for (const row of totals) initGatewaySeries(metrics, row.gateway);
    for (const row of exceptions) {
      metrics.exceptionsOpen.inc({ kind: row.kind, priority: row.priority }, row.count);
      metrics.exceptionsOverdue.inc({ kind: row.kind }, row.overdue);
      if (row.kind === "unmatched" && row.subject_type === "bank_entry" && row.bank) {
        metrics.unmatchedBankEntries.inc({ bank: metrics.labels.bank(row.bank), currency: row.currency }, row.count);
      }
    }
  }

  /** A failed refresh leaves every gauge at its last value: never silently (a metric and an error line). */
  private failed(error: unknown): void {
    this.metrics.gaugeRefreshErrors.inc();
    // One error line per run of failures (a database outage would otherwise log one every interval).
    if (this.failing) this.log.debug({ err: error }, "gauge refresh failed again");
    else this.log.error({ err: error }, "gauge refresh failed: state gauges keep their last values");
    this.failing = true;
  }

  /**
   * Coalesces bursts: at most one refresh in flight and one queued behind it, each beginning at least MIN_GAP_MS after
   * the last began. Under a steady stream of commits (several a second) refreshing after each one ran the gauges'
   * queries back to back: ~8 % of PostgreSQL's time in the bench, for gauges scraped every 15 s or so.
   */
  refreshSoon(): void {
    if (this.queued) return;
    this.queued = true;
    const run = () => {
      const wait = this.lastBegan + MIN_GAP_MS - performance.now();
      if (wait > 0) {
        setTimeout(run, wait).unref();
        return;
      }
      this.queued = false;
      this.refresh().catch((error) => this.failed(error));
    };
    if (this.running) this.running.finally(run);
    else setImmediate(run);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((error) => this.failed(error));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}
