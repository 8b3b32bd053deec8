import { createHmac, timingSafeEqual } from "node:crypto";
import type { Request } from "express";

/**
 * CSRF protection of the status page's forms. A browser resends its Basic credentials with any request to this
 * site, including a form another site makes it POST, so every form carries a token the server checks:
 * `<issued ms>.<HMAC-SHA256 keyed by the signed-in API token over (purpose, subject, issued ms)>`. Only the token's
 * holder and the server can compute it (no per-process secret: any instance of a deployment accepts it, and a
 * restart does not void open pages); it is bound to one subject (a bank entry), expires after FORM_TOKEN_TTL_MS,
 * and a page of another origin cannot read it (no CORS, frame-ancestors 'none'). On top of it a request a browser
 * marks as cross-site (Sec-Fetch-Site, Origin naming another host) is refused before the token is looked at.
 */

export const FORM_TOKEN_TTL_MS = 12 * 3_600_000;

function mac(credential: string, purpose: string, subject: string, issuedMs: number): Buffer {
  return createHmac("sha256", credential)
    .update(`payrecon form v1\u0000${purpose}\u0000${subject}\u0000${issuedMs}`)
    .digest();
}

export function formToken(credential: string, purpose: string, subject: string, nowMs: number): string {
  return `${nowMs}.${mac(credential, purpose, subject, nowMs).toString("hex")}`;
}

export function validFormToken(
  credential: string,
  purpose: string,
  subject: string,
  presented: unknown,
  nowMs: number,
): boolean {
  if (typeof presented !== "string") return false;
  const match = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(presented);
  if (!match) return false;
  const issuedMs = Number(match[1]);
  if (!Number.isSafeInteger(issuedMs) || nowMs - issuedMs > FORM_TOKEN_TTL_MS || issuedMs - nowMs > 60_000) {
    return false;
  }
  return timingSafeEqual(mac(credential, purpose, subject, issuedMs), Buffer.from(match[2]!, "hex"));
}

/**
 * False for a request its browser says comes from another site. `Origin: null` is let through: the pages set
 * `Referrer-Policy: no-referrer`, under which browsers send exactly that on their own same-origin form posts.
 */
export function sameOriginRequest(req: Request): boolean {
  const site = req.headers["sec-fetch-site"];
  if (typeof site === "string" && site !== "same-origin") return false;
  const origin = req.headers.origin;
  if (typeof origin !== "string" || origin === "null") return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
