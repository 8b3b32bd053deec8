import { createHmac, timingSafeEqual } from "node:crypto";
import type { AdyenNotificationItem } from "./adyenNotification.js";

/**
 * Adyen classic notification HMAC (docs.adyen.com/development-resources/webhooks/verify-hmac-signatures):
 * HMAC-SHA256, keyed with the hex-decoded key from the Customer Area, over
 * `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`
 * (missing fields as ""), base64, in `additionalData.hmacSignature`. Each item is signed
 * on its own, so each is verified on its own.
 */

export function adyenSigningString(item: AdyenNotificationItem): string {
  const field = (value: unknown) => (value === undefined || value === null ? "" : String(value));
  return [
    item.pspReference,
    item.originalReference,
    item.merchantAccountCode,
    item.merchantReference,
    item.amount?.value,
    item.amount?.currency,
    item.eventCode,
    item.success,
  ]
    .map(field)
    .join(":");
}

/** Throws for a malformed key: that is a configuration error, not a forged notification. */
export function verifyAdyenHmac(item: AdyenNotificationItem, hexKey: string): boolean {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hexKey))
    throw new TypeError("the Adyen HMAC key must be hex (as shown in the Customer Area)");
  const given = item.additionalData?.hmacSignature;
  if (typeof given !== "string" || given === "") return false;
  const expected = createHmac("sha256", Buffer.from(hexKey, "hex")).update(adyenSigningString(item), "utf8").digest();
  const signature = Buffer.from(given, "base64");
  return signature.length === expected.length && timingSafeEqual(signature, expected);
}
