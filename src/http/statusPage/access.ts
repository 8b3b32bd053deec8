import { createHash, timingSafeEqual } from "node:crypto";
import type { Request } from "express";
import type { ApiToken, Role } from "../../config.js";

/**
 * Who is looking at the status page. The page itself is public; payment-level
 * details need a viewer or operator token, presented as
 *  - `Authorization: Bearer <token>` (scripts, auth proxies), or
 *  - `Authorization: Basic` with the token as the password (browsers: `/login`
 *    asks for it once and the browser resends it on every page of the site).
 * Tokens in the URL (`?token=`) are refused on purpose: they stay in browser
 * history, proxy and access logs and screenshots. Comparison is by SHA-256
 * digest with timingSafeEqual over every configured token, as for the API.
 */

export type Access =
  | { kind: "anonymous"; tokenInUrl: boolean }
  | { kind: "invalid"; tokenInUrl: boolean }
  | { kind: "forbidden"; role: Role; tokenInUrl: boolean }
  | { kind: "granted"; role: Role; actor: string; tokenInUrl: boolean };

const DETAIL_ROLES: readonly Role[] = ["viewer", "operator"];

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The token of an Authorization header (Bearer, or Basic with the token as password), if any. */
export function presentedToken(header: string | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const password = decoded.slice(colon + 1);
  const username = decoded.slice(0, colon);
  // The token belongs in the password field; a token typed as the user name (empty password) is accepted too.
  const token = password || username;
  return token.length > 0 ? token : undefined;
}

export function createAccessCheck(tokens: ApiToken[]) {
  const known = tokens.map((token) => ({
    role: token.role,
    digest: digest(token.token),
    actor: `${token.role}:${digest(token.token).toString("hex").slice(0, 8)}`,
  }));
  return (req: Request): Access => {
    const tokenInUrl = Object.hasOwn(req.query as object, "token");
    const token = presentedToken(req.headers.authorization);
    if (token === undefined) return { kind: "anonymous", tokenInUrl };
    const presented = digest(token);
    let found: (typeof known)[number] | undefined;
    for (const candidate of known) {
      if (timingSafeEqual(candidate.digest, presented) && !found) found = candidate;
    }
    if (!found) return { kind: "invalid", tokenInUrl };
    if (!DETAIL_ROLES.includes(found.role)) return { kind: "forbidden", role: found.role, tokenInUrl };
    return { kind: "granted", role: found.role, actor: found.actor, tokenInUrl };
  };
}
