import { isIPv4, isIPv6 } from "node:net";
import type { NextFunction, Request, Response } from "express";
import type { ApiToken } from "../config.js";
import { createTokenMatcher } from "./auth.js";
import { sendError } from "./errors.js";

/**
 * Rate limiting of /api/v1: a token bucket per principal.
 *
 * - The principal is the bearer token (keyed by its SHA-256 digest, never the
 *   token itself) when it is a configured token; otherwise the client address
 *   (IPv4, or the /64 of an IPv6 address, since one host commonly holds a whole
 *   /64). So every unauthenticated or wrongly authenticated request from one
 *   address shares one bucket — guessing tokens is throttled — while a valid
 *   token keeps its own budget even when an attacker shares its NAT address.
 * - Two limits: ingest (`POST /ingest/{topic}`: machines, webhook bridges that
 *   may post one event per request, bursts when a backlog drains) and
 *   everything else (people and dashboards reading, operators acting). Each
 *   principal has one bucket per limit, so a bulk import never starves reads.
 * - A bucket holds up to `burst` requests and refills at `ratePerSecond`; an
 *   empty bucket answers 429 with `Retry-After` (whole seconds until one
 *   request is available) and the JSON error shape.
 * - Memory is bounded: at most `maxKeys` buckets per limit. A full bucket is
 *   indistinguishable from a new one, so full buckets are dropped first; past
 *   that the least recently used are dropped (a client spraying addresses
 *   can then only make the limit more lenient for the oldest, never stricter).
 *
 * Limits are per process: with N instances behind a balancer a principal gets
 * up to N times the rate. Behind a reverse proxy every client shares the
 * proxy's address for the unauthenticated bucket (`trust proxy` is off: a
 * client-supplied X-Forwarded-For would let anyone pick their own bucket).
 * Health, readiness and metrics are not limited.
 */

export interface RateLimit {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Requests that may be made at once after a quiet period. */
  burst: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * `50/s` (burst = twice the per-second rate, at least 1), `50/s:100` (explicit
 * burst), `3000/m`, `100/h:10`, or `off`. Returns null for `off`, undefined when
 * the text is not a rate limit.
 */
export function parseRateLimit(text: string): RateLimit | null | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "off" || trimmed === "0") return null;
  const match = /^(\d+(?:\.\d+)?)\/([smh])(?::(\d+))?$/.exec(trimmed);
  if (!match) return undefined;
  const ratePerSecond = Number(match[1]) / UNITS[match[2]!]!;
  const burst = match[3] !== undefined ? Number(match[3]) : Math.max(1, Math.ceil(ratePerSecond * 2));
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond) || !Number.isSafeInteger(burst) || burst < 1) {
    return undefined;
  }
  return { ratePerSecond, burst };
}

export type Take = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

/** Token buckets keyed by principal, with a clock that can be injected for tests. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly limit: RateLimit,
    private readonly maxKeys = 10_000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string): Take {
    const now = this.nowMs();
    const bucket = this.buckets.get(key);
    let tokens = this.limit.burst;
    if (bucket) {
      tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.ratePerSecond);
      // Re-inserted below: Map order is then least recently used first.
      this.buckets.delete(key);
    }
    const ok = tokens >= 1;
    if (ok) tokens -= 1;
    this.buckets.set(key, { tokens, at: now });
    if (this.buckets.size > this.maxKeys) this.evict(now);
    if (ok) return { ok: true, remaining: Math.floor(tokens) };
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.limit.ratePerSecond)) };
  }

  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.limit.ratePerSecond >= this.limit.burst) {
        this.buckets.delete(key);
      }
    }
    const target = Math.floor(this.maxKeys * 0.9);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}

/** The unauthenticated principal: an IPv4 address, or the /64 network of an IPv6 one. */
export function clientKey(address: string | undefined): string {
  if (!address) return "ip:unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return `ip:${mapped[1]}`;
  if (isIPv4(address)) return `ip:${address}`;
  if (isIPv6(address)) {
    const [head = "", tail = ""] = address.split("%")[0]!.split("::");
    const left = head ? head.split(":") : [];
    const right = tail ? tail.split(":") : [];
    const groups = address.includes("::")
      ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
      : left;
    return `ip6:${groups
      .slice(0, 4)
      .map((group) => Number.parseInt(group || "0", 16).toString(16))
      .join(":")}::/64`;
  }
  return `ip:${address}`;
}

export interface RateLimits {
  api: RateLimit | null;
  ingest: RateLimit | null;
}

/** Middleware for the /api/v1 router, placed before authentication so that failed attempts are counted too. */
export function createRateLimiter(
  limits: RateLimits,
  tokens: ApiToken[],
  options: { maxKeys?: number; nowMs?: () => number } = {},
) {
  const match = createTokenMatcher(tokens);
  const buckets = {
    api: limits.api ? new TokenBuckets(limits.api, options.maxKeys, options.nowMs) : undefined,
    ingest: limits.ingest ? new TokenBuckets(limits.ingest, options.maxKeys, options.nowMs) : undefined,
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    const found = match(req.headers.authorization);
    const known = typeof found === "object" ? found : undefined;
    const isIngest = req.method === "POST" && req.path.startsWith("/ingest/");
    // Unauthenticated requests always count against the (stricter) api limit of their address.
    const limit = known && isIngest ? buckets.ingest : buckets.api;
    if (!limit) {
      next();
      return;
    }
    admit(limit.take(known ? `token:${known.digestHex}` : clientKey(req.socket.remoteAddress)), res, next);
  };
}

/** For endpoints authenticated otherwise (gateway webhooks, by signature): one bucket per client address. */
export function createAddressRateLimiter(limit: RateLimit | null, options: { maxKeys?: number } = {}) {
  const buckets = limit ? new TokenBuckets(limit, options.maxKeys) : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!buckets) next();
    else admit(buckets.take(clientKey(req.socket.remoteAddress)), res, next);
  };
}

/**
 * For pages that check a credential themselves (the status pages): each attempt whose credential does
 * not verify takes from its address's bucket, at the API's rate, so token guessing is as slow there
 * as on /api/v1; the public page itself is not limited.
 */
export function createFailedSignInLimiter(
  limit: RateLimit | null,
  failed: (req: Request) => boolean,
  options: { maxKeys?: number } = {},
) {
  const buckets = limit ? new TokenBuckets(limit, options.maxKeys) : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!buckets || !failed(req)) next();
    else admit(buckets.take(clientKey(req.socket.remoteAddress)), res, next);
  };
}

function admit(taken: Take, res: Response, next: NextFunction): void {
  if (!taken.ok) {
    res.setHeader("Retry-After", String(taken.retryAfterSeconds));
    sendError(res, 429, "rate_limited", `too many requests; retry after ${taken.retryAfterSeconds} s`);
    return;
  }
  next();
}
