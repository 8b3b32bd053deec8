import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Stripe webhook signatures (docs.stripe.com/webhooks#verify-manually): the
 * `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each v1 an
 * HMAC-SHA256 of `${t}.${raw body}` under an endpoint secret. Several secrets are
 * accepted so a secret can be rolled (Stripe signs with old and new during the overlap).
 * The raw body must be the bytes as received: re-serialized JSON never verifies.
 */

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export function verifyStripeSignature(
  rawBody: string | Buffer,
  header: string | undefined,
  secrets: string[],
  nowSeconds: number,
  toleranceSeconds = 300,
): SignatureCheck {
  if (header === undefined || header.trim() === "") return { ok: false, reason: "missing header" };
  const usable = secrets.filter((secret) => secret !== "");
  if (usable.length === 0) return { ok: false, reason: "no secret configured" };

  let timestamp: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === "t") timestamp = value;
    // Other schemes (v0 is Stripe's test scheme) are ignored, as Stripe's libraries do.
    else if (key === "v1" && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "no timestamp" };
  if (signatures.length === 0) return { ok: false, reason: "no v1 signature" };

  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : rawBody;
  const signed = Buffer.concat([Buffer.from(`${timestamp}.`, "utf8"), body]);
  const matches = usable.some((secret) => {
    const expected = createHmac("sha256", secret).update(signed).digest();
    // Every signature is compared (no early exit on the first byte that differs).
    return signatures.some((signature) => timingSafeEqual(expected, signature));
  });
  if (!matches) return { ok: false, reason: "no signature matches" };

  // Checked after the signature, so a stale but authentic delivery (a replay) is told
  // apart from a forgery in the logs.
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) {
    return { ok: false, reason: "timestamp outside tolerance" };
  }
  return { ok: true };
}
