import { z } from "zod";
import { GatewayPayloadError, isoCurrency, toIsoMinor } from "./gatewayEvent.js";

/**
 * Adyen's classic (Standard) webhook body:
 * `{ "live": "false", "notificationItems": [ { "NotificationRequestItem": { … } } ] }`.
 * Adyen sends booleans as the strings "true"/"false" and re-sends an item until the
 * whole body is acknowledged with `[accepted]`.
 */

export const adyenItemSchema = z.looseObject({
  pspReference: z.string().min(1),
  originalReference: z.string().nullish(),
  merchantAccountCode: z.string().nullish(),
  merchantReference: z.string().nullish(),
  amount: z.looseObject({ value: z.number().int(), currency: z.string() }).nullish(),
  eventCode: z.string().min(1),
  eventDate: z.string(),
  success: z.union([z.boolean(), z.enum(["true", "false"])]),
  reason: z.string().nullish(),
  paymentMethod: z.string().nullish(),
  additionalData: z.record(z.string(), z.unknown()).nullish(),
});

/** One NotificationRequestItem as Adyen sends it. */
export type AdyenNotificationItem = z.input<typeof adyenItemSchema>;
export type ParsedAdyenItem = z.output<typeof adyenItemSchema>;

const bodySchema = z.looseObject({
  live: z.union([z.boolean(), z.string()]).nullish(),
  notificationItems: z.array(z.looseObject({ NotificationRequestItem: z.unknown() })),
});

/** The items of a body, unparsed (each is checked on its own so one bad item spares the rest). */
export function adyenNotificationItems(body: unknown): { live: boolean | null; items: unknown[] } {
  const result = bodySchema.safeParse(body);
  if (!result.success) {
    throw new GatewayPayloadError(
      "adyen notification body is not {live, notificationItems: [{NotificationRequestItem}]}: " +
        result.error.issues.map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`).join("; "),
    );
  }
  const live = result.data.live;
  return {
    live: live === undefined || live === null ? null : String(live) === "true",
    items: result.data.notificationItems.map((entry) => entry.NotificationRequestItem),
  };
}

/**
 * Adyen's minor units differ from ISO 4217 for a few currencies
 * (docs.adyen.com/development-resources/currency-codes): CLP and ISK two decimals,
 * CVE and IDR none.
 */
const ADYEN_EXPONENTS: ReadonlyMap<string, number> = new Map([
  ["CLP", 2],
  ["CVE", 0],
  ["IDR", 0],
  ["ISK", 2],
]);

/** An Adyen `amount` in CONTRACT terms. */
export function adyenMoney(amount: { value: number; currency: string }): { amount_minor: number; currency: string } {
  const currency = isoCurrency(amount.currency);
  return { amount_minor: toIsoMinor(amount.value, currency, ADYEN_EXPONENTS), currency };
}
