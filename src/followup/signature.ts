import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * `Payrecon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` (CONTRACT §9), Stripe's scheme: the
 * time inside the signed text lets a receiver refuse replays older than its tolerance.
 */
export const SIGNATURE_HEADER = "Payrecon-Signature";

export function signNotification(body: string, secret: string, unixSeconds: number): string {
  const hex = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${hex}`;
}

/** What a receiver does (and the tests do): recompute and compare in constant time. */
export function verifyNotification(body: string, header: string, secret: string): boolean {
  const parts = new Map(header.split(",").map((part) => part.split("=", 2) as [string, string]));
  const t = Number(parts.get("t"));
  const v1 = parts.get("v1") ?? "";
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = signNotification(body, secret, t).split("v1=")[1]!;
  return timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(v1, "hex"));
}
