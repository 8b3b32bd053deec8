import type pg from "pg";
import type { Config } from "../config.js";
import { takeStripePayoutsToFetch } from "../db/queries/stripePayouts.js";
import type { Logger } from "../logger.js";
import type { RawMessage } from "./decode.js";
import { getStripeJson } from "./stripeApi.js";
import { type IngestDeps, ingestMessages } from "./ingest.js";

/**
 * A Stripe account pointed at payrecon sends payout.paid for our own automatic payouts,
 * but never the balance transactions that make them up. With STRIPE_API_KEY set, this asks
 * Stripe for them (GET /v1/balance_transactions?payout=…, every page, the charges
 * expanded for their references) for each payout still waiting, and feeds each page
 * through the raw Stripe ingest path, where the payout is composed once they add up.
 * Without a key, the transactions must come on the raw topic (a bridge's job).
 */
export class StripePayoutFetcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly stripe: Config["gateways"]["stripe"] & { apiKey: string },
    private readonly ingest: IngestDeps,
    private readonly topic: string,
    private readonly log: Logger,
    private readonly fetchJson: (url: string, init: RequestInit) => Promise<unknown> = (url, init) =>
      getStripeJson(url, init, { apiVersion: stripe.apiVersion }),
  ) {}

  /** One round over the oldest waiting payouts; a failure for one payout does not stop the others. */
  fetchOnce(): Promise<void> {
    if (!this.running) {
      this.running = this.round().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async round(): Promise<void> {
    for (const payoutId of await takeStripePayoutsToFetch(this.pool, 20, this.ingest.now())) {
      try {
        const pages = await this.balanceTransactionPages(payoutId);
        const result = await ingestMessages(this.ingest, pages);
        this.log.info(
          { payoutId, pages: pages.length, accepted: result.accepted, rejected: result.rejected },
          "stripe payout balance transactions fetched",
        );
      } catch (error) {
        this.log.warn({ err: error, payoutId }, "stripe balance transactions not fetched; will retry");
      }
    }
  }

  private async balanceTransactionPages(payoutId: string): Promise<RawMessage[]> {
    const pages: RawMessage[] = [];
    let startingAfter: string | undefined;
    // Stripe pages by 100 at most; 1,000 pages is 100,000 transactions, beyond any real payout.
    for (let page = 0; page < 1_000; page++) {
      const url = new URL("/v1/balance_transactions", this.stripe.apiUrl);
      url.searchParams.set("payout", payoutId);
      url.searchParams.set("limit", "100");
      url.searchParams.append("expand[]", "data.source");
      if (startingAfter) url.searchParams.set("starting_after", startingAfter);
      const body = await this.fetchJson(url.toString(), {
        headers: { Authorization: `Bearer ${this.stripe.apiKey}` },
        signal: AbortSignal.timeout(30_000),
      });
      const list = body as { data?: unknown; has_more?: unknown };
      if (!Array.isArray(list.data)) throw new Error(`Stripe answered without a data list for payout ${payoutId}`);
      const data = list.data.map(slimSource);
      pages.push({
        kind: "stripe",
        topic: this.topic,
        partition: null,
        offset: null,
        key: Buffer.from(payoutId),
        value: Buffer.from(JSON.stringify({ object: "list", payout: payoutId, data })),
        source: "http",
      });
      const last = data.at(-1) as { id?: unknown } | undefined;
      if (list.has_more !== true || typeof last?.id !== "string") break;
      startingAfter = last.id;
    }
    return pages;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.fetchOnce().catch((error) => this.log.warn({ err: error }, "stripe payout fetch failed; will retry"));
    }, this.stripe.payoutFetchIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}

/** An expanded charge is kilobytes; its reference needs only these fields. */
function slimSource(transaction: unknown): unknown {
  const txn = transaction as { source?: unknown };
  if (typeof txn?.source !== "object" || txn.source === null) return transaction;
  const { id, object, metadata, payment_intent } = txn.source as Record<string, unknown>;
  return { ...txn, source: { id, object, metadata, payment_intent } };
}
