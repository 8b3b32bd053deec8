import type pg from "pg";
import type { FollowUpConfig } from "../config.js";
import {
  advanceDunningSteps,
  breakPassedPromises,
  closeDunningRecords,
  openDunningRecords,
  raiseExceptionPriority,
} from "../db/queries/dunning.js";
import { appendAudit, SYSTEM_ACTOR } from "../db/queries/exceptions.js";
import {
  exceptionsToNotify,
  insertNotifications,
  type NewNotification,
  notificationBody,
  retriesToSuggest,
  type StoredNotification,
} from "../db/queries/notifications.js";
import { enqueueOutbox } from "../db/queries/outbox.js";
import type { Db } from "../db/pool.js";
import { withTransaction } from "../db/transaction.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import type { PriorityTier } from "../reconcile/priority.js";
import { PeriodReports } from "./periodReports.js";

/**
 * The follow-up loop (CONTRACT §9), downstream of reconciliation: it reads committed state (payments,
 * exceptions, status changes) and keeps dunning records and notifications in step with it. It never changes
 * a status; the one thing it changes upstream is an exception's priority when a promise is broken.
 * One transaction per run, taken by one instance at a time (an advisory lock); every notification has a
 * dedupe key, so a run repeated after a crash stores nothing twice.
 */

const LOCK_KEY = 7_248_263_021; // arbitrary, fixed: "payrecon follow-up"
const PRIORITIES = ["p1", "p2", "p3"] as const;

export interface FollowUpRun {
  /** Notifications stored by this run, by kind. */
  queued: Record<string, number>;
  opened: number;
  closed: number;
  /** False when another instance held the run. */
  ran: boolean;
}

export interface FollowUpOptions {
  config: FollowUpConfig;
  tiers: PriorityTier[];
  /** Set when Kafka is configured and the topic is on: every notification is published there too. */
  kafkaTopic: string | undefined;
}

export class FollowUp {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FollowUpRun> | undefined;
  private soon: NodeJS.Timeout | undefined;
  /** When the last run asked for by a commit is due (performance.now()): runSoon spaces them a second apart. */
  private lastSoon = Number.NEGATIVE_INFINITY;
  private readonly reports: PeriodReports;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: FollowUpOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: () => Date = () => new Date(),
    private readonly onQueued: () => void = () => {},
  ) {
    this.reports = new PeriodReports(pool, options.config.reports);
  }

  runOnce(): Promise<FollowUpRun> {
    // A run already under way may have read before the caller's change committed: one more after it.
    if (this.running) return this.running.catch(() => undefined).then(() => this.runOnce());
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<FollowUpRun> {
    const now = this.clock();
    const result = await withTransaction(this.pool, async (tx) => {
      const lock = await tx.query<{ ok: boolean }>("select pg_try_advisory_xact_lock($1) as ok", [LOCK_KEY]);
      if (!lock.rows[0]?.ok) return { stored: [] as StoredNotification[], opened: 0, closed: 0, ran: false };
      const items: NewNotification[] = [];
      items.push(...(await this.exceptionNotifications(tx)), ...(await this.retryNotifications(tx)));
      const closed = await closeDunningRecords(tx, now);
      const opened = await openDunningRecords(tx, now, this.options.config.dunningScheduleMs);
      items.push(...(await this.reminders(tx, now)), ...(await this.brokenPromises(tx, now)));
      items.push(...(await this.reports.run(tx, now)));
      const stored = await this.store(tx, items, now);
      return { stored, opened, closed, ran: true };
    });
    const queued: Record<string, number> = {};
    for (const row of result.stored) {
      queued[row.kind] = (queued[row.kind] ?? 0) + 1;
      this.metrics.notifications.inc({ kind: row.kind, result: "queued" });
    }
    if (result.stored.length > 0) {
      this.log.info({ queued, opened: result.opened, closed: result.closed }, "follow-up stored notifications");
      this.onQueued();
    }
    return { queued, opened: result.opened, closed: result.closed, ran: result.ran };
  }

  /** Stores notifications with a delivery per webhook URL and, with Kafka, an outbox message each. */
  private async store(tx: Db, items: NewNotification[], now: Date): Promise<StoredNotification[]> {
    const notify = this.options.config.notify;
    const giveUpAt = new Date(now.getTime() + notify.retryForMs);
    const stored = await insertNotifications(tx, items, now, notify.webhookUrls, giveUpAt);
    const topic = this.options.kafkaTopic;
    if (topic && stored.length > 0) {
      await enqueueOutbox(
        tx,
        stored.map((row) => ({
          topic,
          key: row.order_key,
          value: notificationBody(row),
          headers: { "x-payrecon-notification-kind": row.kind },
        })),
      );
    }
    return stored;
  }

  private async exceptionNotifications(tx: Db): Promise<NewNotification[]> {
    const min = PRIORITIES.indexOf(this.options.config.notify.minPriority);
    const rows = await exceptionsToNotify(tx, PRIORITIES.slice(0, min + 1), 1_000);
    return rows.map((row) => ({
      kind: "exception_opened",
      dedupeKey: `exception_opened:${row.id}:${row.episode}`,
      orderKey: row.payment_id ?? row.subject_key,
      paymentId: row.payment_id,
      payload: {
        exception: {
          id: String(row.id),
          kind: row.kind,
          priority: row.priority,
          subject: row.subject_key,
          payment_id: row.payment_id,
          entry_id: row.entry_id,
          bank: row.bank,
          gateway: row.gateway,
          amount_minor: row.amount_minor,
          currency: row.currency,
          direction: row.direction,
          detail: row.detail,
          opened_at: row.opened_at.toISOString(),
          due_by: row.due_by?.toISOString() ?? null,
        },
      },
    }));
  }

  private async retryNotifications(tx: Db): Promise<NewNotification[]> {
    const rows = await retriesToSuggest(tx, 1_000);
    return rows.map((row) => ({
      kind: "retry_suggested",
      dedupeKey: `retry_suggested:${row.payment_id}:${row.failure}`,
      orderKey: row.payment_id,
      paymentId: row.payment_id,
      payload: {
        payment_id: row.payment_id,
        reference: row.reference,
        gateway: row.gateway,
        direction: row.direction,
        counterparty: row.counterparty,
        amount_minor: row.amount_minor,
        currency: row.currency,
        failure_category: row.failure_category,
        failure_code: row.failure_code,
        failure_message: row.failure_message,
        retry_advice: "retry",
        failed_at: row.failed_at.toISOString(),
      },
    }));
  }

  private async reminders(tx: Db, now: Date): Promise<NewNotification[]> {
    const steps = await advanceDunningSteps(tx, now);
    return steps
      .filter((step) => step.state === "due")
      .map((step) => ({
        kind: "reminder_due",
        dedupeKey: `reminder_due:${step.record_id}:${step.step}`,
        orderKey: step.payment_id,
        paymentId: step.payment_id,
        payload: {
          dunning_id: String(step.record_id),
          step: step.step,
          steps: step.steps,
          step_due_at: step.due_at.toISOString(),
          reason: step.reason,
          since: step.since.toISOString(),
          payment_id: step.payment_id,
          reference: step.reference,
          exception_id: step.exception_id === null ? null : String(step.exception_id),
          counterparty: step.counterparty,
          gateway: step.gateway,
          direction: step.direction,
          currency: step.currency,
          amount_minor: step.amount_minor,
          outstanding_minor: Math.max(0, step.amount_minor - step.settled_amount_minor),
        },
      }));
  }

  private async brokenPromises(tx: Db, now: Date): Promise<NewNotification[]> {
    const broken = await breakPassedPromises(tx, now);
    const within = Object.fromEntries(this.options.tiers.map((tier) => [tier.priority, tier.resolveWithinMs]));
    const items: NewNotification[] = [];
    for (const promise of broken) {
      const priority =
        promise.exception_id === null ? null : await raiseExceptionPriority(tx, promise.exception_id, now, within);
      if (promise.exception_id !== null) {
        await appendAudit(
          tx,
          [
            {
              exceptionId: promise.exception_id,
              actor: SYSTEM_ACTOR,
              action: "promise_broken",
              note: `promised by ${promise.promised_by} (${promise.channel} contact by ${promise.actor}), not paid${priority ? `; raised to ${priority}` : ""}`,
            },
          ],
          now,
        );
      }
      items.push({
        kind: "promise_broken",
        dedupeKey: `promise_broken:${promise.contact_id}`,
        orderKey: promise.payment_id,
        paymentId: promise.payment_id,
        payload: {
          dunning_id: String(promise.record_id),
          payment_id: promise.payment_id,
          exception_id: promise.exception_id === null ? null : String(promise.exception_id),
          priority,
          promised_by: promise.promised_by,
          contacted_at: promise.contacted_at.toISOString(),
          channel: promise.channel,
          contacted_by: promise.actor,
          counterparty: promise.counterparty,
          gateway: promise.gateway,
          direction: promise.direction,
          currency: promise.currency,
          amount_minor: promise.amount_minor,
        },
      });
    }
    return items;
  }

  /**
   * After a commit that may have changed what needs follow-up: run shortly, once for a burst, and at most once a
   * second however many batches commit (after each one, its queries were ~9 % of PostgreSQL's time in the bench).
   */
  runSoon(delayMs = 200): void {
    if (this.soon || !this.timer) return;
    const wait = Math.max(delayMs, this.lastSoon + 1_000 - performance.now());
    this.lastSoon = performance.now() + wait;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.runOnce().catch((error) => this.log.warn({ err: error }, "follow-up failed; will retry"));
    }, wait);
    this.soon.unref();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((error) => this.log.warn({ err: error }, "follow-up failed; will retry"));
    }, this.options.config.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = undefined;
    this.soon = undefined;
    await this.running?.catch(() => {});
  }
}
