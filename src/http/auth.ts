import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { ApiToken, Role } from "../config.js";
import { sendError } from "./errors.js";

/**
 * Bearer tokens from API_TOKENS, each with one role. Tokens are compared as
 * SHA-256 digests with timingSafeEqual, so neither content nor length leaks
 * through timing; the token itself is never logged, only its role and a
 * short fingerprint as the actor.
 */
export interface Principal {
  role: Role;
  /** The actor written in audit trails: role plus a fingerprint of the token. */
  actor: string;
}

declare module "express-serve-static-core" {
  interface Request {
    principal?: Principal;
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

export interface TokenMatch {
  role: Role;
  actor: string;
  /** SHA-256 of the token, hex: a key for per-token state (rate limits) that is not the secret itself. */
  digestHex: string;
}

/**
 * The configured token an Authorization header presents: its match, `missing`
 * (no `Bearer <token>`), or `invalid`. Shared by authentication and rate limiting.
 */
export function createTokenMatcher(tokens: ApiToken[]) {
  const known = tokens.map((token) => {
    const tokenDigest = digest(token.token);
    const digestHex = tokenDigest.toString("hex");
    return {
      digest: tokenDigest,
      match: { role: token.role, actor: `${token.role}:${digestHex.slice(0, 8)}`, digestHex },
    };
  });
  return (header: string | undefined): TokenMatch | "missing" | "invalid" => {
    const bearer = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!bearer) return "missing";
    const presented = digest(bearer[1]!);
    let found: TokenMatch | undefined;
    for (const candidate of known) {
      // Check every token (no early exit) so the position of a match does not leak either.
      if (timingSafeEqual(candidate.digest, presented) && !found) found = candidate.match;
    }
    return found ?? "invalid";
  };
}

export function createAuthenticator(tokens: ApiToken[]) {
  const match = createTokenMatcher(tokens);
  return (req: Request, res: Response, next: NextFunction): void => {
    const found = match(req.headers.authorization);
    if (found === "missing") {
      res.setHeader("WWW-Authenticate", 'Bearer realm="payrecon"');
      sendError(res, 401, "unauthenticated", "an Authorization: Bearer token is required");
      return;
    }
    if (found === "invalid") {
      res.setHeader("WWW-Authenticate", 'Bearer realm="payrecon", error="invalid_token"');
      sendError(res, 401, "unauthenticated", "the token is not valid");
      return;
    }
    req.principal = { role: found.role, actor: found.actor };
    next();
  };
}

/** Which roles may call an endpoint. An operator can also read; an ingester only writes facts. */
export function requireRole(...roles: Role[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!req.principal || !roles.includes(req.principal.role)) {
      sendError(res, 403, "forbidden", `this endpoint needs the role ${roles.join(" or ")}`);
      return;
    }
    next();
  };
}
