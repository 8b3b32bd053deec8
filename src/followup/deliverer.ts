import type pg from "pg";
import { type ClaimedDelivery, claimDeliveries, notificationBody, recordAttempt } from "../db/queries/notifications.js";
import type { FollowUpConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { VERSION } from "../version.js";
import { SIGNATURE_HEADER, signNotification } from "./signature.js";

/**
 * Delivers stored notifications to the webhook URLs: at least once (a delivery is marked only after the
 * receiver answered 2xx), in order per payment and URL (claimDeliveries holds later ones back), retried with
 * exponential backoff and jitter until NOTIFY_RETRY_FOR has passed since the notification was stored.
 */
export class NotificationDeliverer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly notify: FollowUpConfig["notify"],
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: () => Date = () => new Date(),
    private readonly pollMs = 1_000,
    private readonly batchSize = 32,
  ) {}

  /** Delivers everything due now; returns how many attempts were made. */
  deliverDue(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Something was stored: attempt it now rather than at the next poll. */
  kick(): void {
    if (this.stopped || this.notify.webhookUrls.length === 0) return;
    this.deliverDue().catch((error) => this.log.warn({ err: error }, "notification delivery failed; will retry"));
  }

  private async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      this.again = false;
      const now = this.clock();
      // The lease outlasts the request's timeout: nobody else attempts it while this one may still succeed.
      const lease = new Date(now.getTime() + this.notify.timeoutMs + 5_000);
      const claimed = await claimDeliveries(this.pool, this.notify.webhookUrls, now, lease, this.batchSize);
      await Promise.all(claimed.map((delivery) => this.attempt(delivery)));
      total += claimed.length;
      if (this.stopped || (claimed.length === 0 && !this.again)) return total;
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const body = notificationBody({
      id: delivery.notification_id,
      kind: delivery.kind,
      created_at: delivery.created_at,
      payload: delivery.payload,
    });
    const began = performance.now();
    let httpStatus: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(delivery.destination, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "User-Agent": `payrecon/${VERSION}`,
          "Payrecon-Notification-Id": String(delivery.notification_id),
          "Payrecon-Notification-Kind": delivery.kind,
          [SIGNATURE_HEADER]: signNotification(
            body,
            this.notify.webhookSecret ?? "",
            Math.floor(this.clock().getTime() / 1000),
          ),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.notify.timeoutMs),
      });
      httpStatus = response.status;
      await response.arrayBuffer().catch(() => undefined);
      if (httpStatus < 200 || httpStatus > 299) error = `HTTP ${httpStatus}`;
    } catch (caught) {
      const name = (caught as Error).name;
      error =
        name === "TimeoutError"
          ? `no answer within ${this.notify.timeoutMs} ms`
          : `${(caught as Error).message}${(caught as { cause?: Error }).cause ? `: ${(caught as { cause: Error }).cause.message}` : ""}`;
    }
    const now = this.clock();
    const delivered = error === null;
    const retryAt = new Date(
      now.getTime() + backoffMs(delivery.attempts, this.notify.retryMinMs, this.notify.retryMaxMs),
    );
    const gaveUp = !delivered && retryAt > delivery.give_up_at;
    await recordAttempt(this.pool, {
      deliveryId: delivery.id,
      at: now,
      delivered,
      httpStatus,
      error,
      durationMs: performance.now() - began,
      nextAttemptAt: gaveUp ? null : retryAt,
    });
    this.metrics.notifications.inc({ kind: delivery.kind, result: delivered ? "delivered" : "failed" });
    if (gaveUp) {
      this.metrics.notifications.inc({ kind: delivery.kind, result: "gave_up" });
      this.log.error(
        { notification: delivery.notification_id, kind: delivery.kind, attempts: delivery.attempts, error },
        "notification not delivered within NOTIFY_RETRY_FOR; given up",
      );
    } else if (!delivered) {
      this.log.warn(
        { notification: delivery.notification_id, kind: delivery.kind, attempt: delivery.attempts, error, retryAt },
        "notification delivery failed; will retry",
      );
    }
  }

  start(): void {
    if (this.timer || this.notify.webhookUrls.length === 0) return;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}

/**
 * Exponential backoff with equal jitter: attempt n waits between half and all of min·2^(n-1), at most max —
 * receivers coming back are not hit by every sender at the same instant.
 */
export function backoffMs(attempts: number, minMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
