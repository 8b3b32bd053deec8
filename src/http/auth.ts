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

export function createAuthenticator(tokens: ApiToken[]) {
  const known = tokens.map((token) => ({
    role: token.role,
    digest: digest(token.token),
    actor: `${token.role}:${digest(token.token).toString("hex").slice(0, 8)}`,
  }));
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="payrecon"');
      sendError(res, 401, "unauthenticated", "an Authorization: Bearer token is required");
      return;
    }
    const presented = digest(match[1]!);
    let found: (typeof known)[number] | undefined;
    for (const candidate of known) {
      // Check every token (no early exit) so the position of a match does not leak either.
      if (timingSafeEqual(candidate.digest, presented) && !found) found = candidate;
    }
    if (!found) {
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
