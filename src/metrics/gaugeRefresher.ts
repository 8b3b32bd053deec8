import { stripePayoutsWaitingSummary } from "../db/queries/stripePayouts.js";
import type pg from "pg";
import { exceptionAggregates, oldestUnsettled, paymentTotals } from "../db/queries/gauges.js";
import type { Logger } from "../logger.js";
import { toMajorUnits } from "../messages/currencies.js";
import { initGatewaySeries, type Metrics } from "./registry.js";

const AT_RISK = new Set(["failed", "held", "delayed", "mismatch"]);
const EXCEPTION_KINDS = ["failed", "held", "delayed", "mismatch", "unmatched", "ambiguous", "duplicate"] as const;
const PRIORITIES = ["p1", "p2", "p3"] as const;

/**
 * Keeps the state gauges equal to the database, which every instance writes:
 * a few indexed aggregate queries every couple of seconds (and right after
 * each batch), never a scan per scrape.
 */
export class GaugeRefresher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private queued = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly intervalMs = 2_000,
  ) {}

  refresh(): Promise<void> {
    if (!this.running) {
      this.running = this.read().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async read(): Promise<void> {
    const now = new Date();
    const [totals, exceptions, stripeWaiting] = await Promise.all([
      paymentTotals(this.pool),
      exceptionAggregates(this.pool, now),
      stripePayoutsWaitingSummary(this.pool),
    ]);
    const pairs = new Map<string, { gateway: string; direction: string }>();
    for (const row of totals) pairs.set(`${row.gateway}\u0000${row.direction}`, row);
    const oldest = await oldestUnsettled(this.pool, [...pairs.values()]);

    const { metrics } = this;
    metrics.stripePayoutsWaiting.set(stripeWaiting.count);
    metrics.payments.reset();
    metrics.fundsAtRisk.reset();
    for (const row of totals) {
      metrics.payments.inc({ status: row.status, direction: row.direction, gateway: row.gateway }, row.count);
      if (AT_RISK.has(row.status)) {
        metrics.fundsAtRisk.inc(
          { status: row.status, direction: row.direction, currency: row.currency },
          toMajorUnits(row.at_risk_minor, row.currency),
        );
      }
    }
    // Every at-risk status present (at zero) for each direction/currency seen, so alerts compare against 0, not absence.
    for (const row of totals) {
      for (const status of AT_RISK)
        metrics.fundsAtRisk.inc({ status, direction: row.direction, currency: row.currency }, 0);
    }
    metrics.oldestUnsettledAge.reset();
    for (const row of oldest) {
      const age = row.created_at ? Math.max(0, (now.getTime() - row.created_at.getTime()) / 1000) : 0;
      metrics.oldestUnsettledAge.set({ gateway: row.gateway, direction: row.direction }, age);
    }
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
        metrics.unmatchedBankEntries.inc({ bank: row.bank, currency: row.currency }, row.count);
      }
    }
  }

  /** Coalesces bursts: at most one refresh in flight and one queued behind it. */
  refreshSoon(): void {
    if (this.queued) return;
    this.queued = true;
    const run = () => {
      this.queued = false;
      this.refresh().catch((error) => this.log.debug({ err: error }, "gauge refresh failed"));
    };
    if (this.running) this.running.finally(run);
    else setImmediate(run);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((error) => this.log.debug({ err: error }, "gauge refresh failed"));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}
