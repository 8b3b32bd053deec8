import { createHmac } from "node:crypto";
import type { AdyenNotificationItem } from "../../src/adapters/adyenNotification.js";

/**
 * Signs a notification item as Adyen does, independently of the module under test: HMAC-SHA256 over the
 * eight fields joined with ":" unescaped (Adyen/adyen-node-api-library HmacValidator.getDataToSign).
 */
export function signAdyenItem(item: AdyenNotificationItem, hexKey: string): AdyenNotificationItem {
  const data = [
    item.pspReference,
    item.originalReference ?? "",
    item.merchantAccountCode ?? "",
    item.merchantReference ?? "",
    item.amount?.value ?? "",
    item.amount?.currency ?? "",
    item.eventCode,
    item.success,
  ].join(":");
  const hmacSignature = createHmac("sha256", Buffer.from(hexKey, "hex")).update(data).digest("base64");
  return { ...item, additionalData: { ...item.additionalData, hmacSignature } };
}

export const adyenBody = (...items: AdyenNotificationItem[]) => ({
  live: "false",
  notificationItems: items.map((item) => ({ NotificationRequestItem: item })),
});

/** A successful AUTHORISATION item, a minute old, whose merchant reference holds a colon (as ours may). */
export const adyenItem = (overrides: Partial<AdyenNotificationItem> = {}): AdyenNotificationItem => ({
  pspReference: "8816178952380553",
  merchantAccountCode: "ACC",
  merchantReference: "ORDER:123",
  amount: { value: 1000, currency: "EUR" },
  eventCode: "AUTHORISATION",
  eventDate: new Date(Date.now() - 60_000).toISOString(),
  success: "true",
  ...overrides,
});
