import { createHmac, timingSafeEqual } from "node:crypto";
import type { AdyenNotificationItem } from "./adyenNotification.js";

/**
 * Adyen classic notification HMAC (docs.adyen.com/development-resources/webhooks/verify-hmac-signatures):
 * HMAC-SHA256, keyed with the hex-decoded key from the Customer Area, over
 * `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`
 * (missing fields as ""), base64, in `additionalData.hmacSignature`. Each item is signed
 * on its own, so each is verified on its own.
 *
 * Adyen joins the notification fields unescaped (its libraries escape `\` and `:` only in the
 * key-value form used by hosted payment pages, e.g. Adyen/adyen-node-api-library HmacValidator
 * getDataToSign), so escaping here would refuse every genuine notification. Colons could then move
 * between fields and keep the signature (`ACC` + `ORDER:123` re-split as `ACC:ORDER` + `123`). Only
 * merchantReference is ours to choose; every other signed field is Adyen's code, number or flag and never
 * holds a colon: an item whose other signed field does is refused, so the split is unique.
 */

/** The signed fields Adyen fills itself; a colon in one of them would make the signing string ambiguous. */
const COLON_FREE_FIELDS = ["pspReference", "originalReference", "merchantAccountCode", "eventCode"] as const;

/** The signed field that makes the signing string ambiguous, or undefined. */
export function ambiguousSignedField(item: AdyenNotificationItem): string | undefined {
  for (const name of COLON_FREE_FIELDS) {
    const value = item[name];
    if (typeof value === "string" && value.includes(":")) return name;
  }
  if (typeof item.amount?.currency === "string" && item.amount.currency.includes(":")) return "amount.currency";
  if (typeof item.success === "string" && item.success.includes(":")) return "success";
  return undefined;
}

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
  if (ambiguousSignedField(item) !== undefined) return false;
  const expected = createHmac("sha256", Buffer.from(hexKey, "hex")).update(adyenSigningString(item), "utf8").digest();
  const signature = Buffer.from(given, "base64");
  return signature.length === expected.length && timingSafeEqual(signature, expected);
}
