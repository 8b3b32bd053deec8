import express, { type Request, type Response, type Router } from "express";
import type { NativeGateway } from "../../adapters/gatewayFacts.js";
import { adyenItemSchema, adyenNotificationItems } from "../../adapters/adyenNotification.js";
import { ambiguousSignedField, verifyAdyenHmac } from "../../adapters/adyenSignature.js";
import { verifyStripeSignature } from "../../adapters/stripeSignature.js";
import type { Config } from "../../config.js";
import { MAX_MESSAGE_BYTES } from "../../consumers/decode.js";
import { type IngestDeps, ingestMessages, type IngestResult } from "../../consumers/ingest.js";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../../metrics/registry.js";
import { sendError } from "../errors.js";
import { createAddressRateLimiter, type RateLimit } from "../rateLimit.js";

/**
 * POST /webhooks/stripe and /webhooks/adyen: a gateway pointed straight at payrecon.
 * The signature is the authentication (no bearer token): verified over the raw bytes
 * before anything is parsed into facts; a bad one is answered 400, counted and logged
 * with its reason, never processed. A verified payload goes through the same ingest path
 * as the raw topics (idempotent by the gateway's own ids) and is acknowledged only after
 * the database commit, so the gateway re-sends whatever was not stored. A payload that
 * cannot become a fact is still acknowledged: it is dead-lettered with its reason, and a
 * gateway re-sending it for days would change nothing.
 */

export interface WebhookOptions {
  gateways: Config["gateways"];
  topics: Config["topics"];
  ingest: IngestDeps;
  metrics: Metrics;
  log: Logger;
  rateLimit: RateLimit | null;
}

type Outcome = "processed" | "bad_signature" | "malformed" | "not_configured";

export function webhooksRouter(options: WebhookOptions): Router {
  const { gateways, topics, ingest, metrics, log } = options;
  const router = express.Router();
  const rawBody = express.raw({ type: () => true, limit: MAX_MESSAGE_BYTES });
  const limiter = createAddressRateLimiter(options.rateLimit);
  const refuse = (res: Response, gateway: NativeGateway, outcome: Outcome, status: number, message: string) => {
    metrics.webhookRequests.inc({ gateway, outcome });
    log.warn({ gateway, outcome, reason: message }, "webhook refused");
    sendError(res, status, outcome, message);
  };
  const store = async (gateway: NativeGateway, body: Buffer): Promise<IngestResult["lines"][number]> => {
    const topic = (gateway === "stripe" ? topics.rawStripe : topics.rawAdyen) ?? `webhook.${gateway}`;
    const result = await ingestMessages(ingest, [
      { kind: gateway, topic, partition: null, offset: null, key: null, value: body, source: "http" },
    ]);
    metrics.webhookRequests.inc({ gateway, outcome: "processed" });
    return result.lines[0]!;
  };

  router.post("/webhooks/stripe", limiter, rawBody, async (req: Request, res: Response) => {
    const { webhookSecrets, webhookToleranceMs } = gateways.stripe;
    if (webhookSecrets.length === 0) {
      refuse(res, "stripe", "not_configured", 503, "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRETS)");
      return;
    }
    const body = bodyOf(req);
    const check = verifyStripeSignature(
      body,
      req.get("stripe-signature"),
      webhookSecrets,
      Math.floor(ingest.now().getTime() / 1000),
      Math.floor(webhookToleranceMs / 1000),
    );
    if (!check.ok) {
      refuse(res, "stripe", "bad_signature", 400, `Stripe-Signature: ${check.reason}`);
      return;
    }
    const line = await store("stripe", body);
    res.json({ received: true, ...line });
  });

  router.post("/webhooks/adyen", limiter, rawBody, async (req: Request, res: Response) => {
    const { hmacKeys } = gateways.adyen;
    if (hmacKeys.length === 0) {
      refuse(res, "adyen", "not_configured", 503, "Adyen webhooks are not configured (ADYEN_HMAC_KEYS)");
      return;
    }
    const body = bodyOf(req);
    let items: unknown[];
    try {
      items = adyenNotificationItems(JSON.parse(body.toString("utf8"))).items;
    } catch {
      refuse(res, "adyen", "malformed", 400, "not an Adyen notification body {live, notificationItems}");
      return;
    }
    // The signature is per item: a body without items carries nothing verifiable, so nothing of it is stored
    // (it would let anyone write up to MAX_MESSAGE_BYTES into rejected_messages without a key).
    if (items.length === 0) {
      refuse(res, "adyen", "malformed", 400, "notificationItems is empty: nothing to verify");
      return;
    }
    // Every item is signed on its own; one forged item refuses the whole body, so nothing of it is processed.
    for (const [index, item] of items.entries()) {
      const problem = adyenItemProblem(item, hmacKeys);
      if (problem !== undefined) {
        refuse(res, "adyen", "bad_signature", 400, `notificationItems[${index}]: ${problem}`);
        return;
      }
    }
    const line = await store("adyen", body);
    // Adyen's protocol: this exact body, or it re-sends the notification. A conflict (an event id already stored
    // with other money facts) is dead-lettered; re-sending would change nothing, so it is accepted and said here.
    if (line.status === "rejected") {
      const said = `${line.reason}: ${line.detail ?? ""}`.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
      res.setHeader("X-Payrecon-Rejected", said);
    }
    res.type("text/plain").send("[accepted]");
  });
  return router;
}

function bodyOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Why an item cannot be trusted, or undefined when it verifies under one of the keys. */
function adyenItemProblem(item: unknown, keys: string[]): string | undefined {
  const parsed = adyenItemSchema.safeParse(item);
  // An item too malformed to sign cannot be verified either; treated as unsigned.
  if (!parsed.success) return "HMAC signature does not verify";
  const ambiguous = ambiguousSignedField(parsed.data);
  if (ambiguous !== undefined) return `signed field ${ambiguous} contains ':', which makes the signature ambiguous`;
  return keys.some((key) => verifyAdyenHmac(parsed.data, key)) ? undefined : "HMAC signature does not verify";
}
