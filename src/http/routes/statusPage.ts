import type { Staleness } from "../../staleness.js";
import express, { type Response, type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import type { ApiToken } from "../../config.js";
import { migrationsApplied } from "../../db/migrate.js";
import { paymentTotals } from "../../db/queries/gauges.js";
import { getPayment, paymentTimeline } from "../../db/queries/paymentViews.js";
import {
  failureCategoriesTrend,
  fundsAtRiskTrend,
  payoutFailuresTrend,
  settlementDelayTrend,
} from "../../db/queries/trends.js";
import {
  exceptionsOfPayment,
  largestOpenExceptionsPerCurrency,
  oldestOpenExceptions,
  openExceptionSummary,
  sourceFreshness,
} from "../../db/queries/statusPage.js";
import { isCurrency } from "../../messages/currencies.js";
import type { LabelBounds } from "../../metrics/labels.js";
import type { Metrics } from "../../metrics/registry.js";
import { VERSION } from "../../version.js";
import { clientText } from "../query.js";
import { createFailedSignInLimiter, type RateLimit } from "../rateLimit.js";
import { type Access, createAccessCheck } from "../statusPage/access.js";
import { type Html, html } from "../statusPage/html.js";
import {
  consumerLag,
  DEFAULT_TOPICS,
  freshness,
  fundsAtRisk,
  gatewayFailureRatios,
  heldPayments,
  largestFirst,
  type Readiness,
  type TopicNames,
} from "../statusPage/model.js";
import { messagePage, paymentPage } from "../statusPage/paymentView.js";
import { dunningPageHandler } from "./dunningPage.js";
import { bankEntryPagesRouter } from "./bankEntryPages.js";
import type { IngestDeps } from "../../consumers/ingest.js";
import { type StatusPageData, statusPage } from "../statusPage/statusView.js";
import {
  DEFAULT_TREND_WINDOW,
  isTrendWindow,
  type TrendWindow,
  type Trends,
  trendRange,
  trends,
} from "../statusPage/trends.js";

/**
 * The status page (GET /) and a payment's page (GET /payments/{id}):
 * server-rendered HTML, no scripts, no external assets. Public, with
 * aggregates only; payment-level details for a viewer or operator token
 * (see statusPage/access.ts for how a token is presented, and why not in the URL).
 */

export interface StatusPageOptions {
  /** Topic names (to tell gateway from bank sources); the CONTRACT defaults otherwise. */
  topics?: TopicNames;
  /** Absent when Kafka is not configured. */
  kafkaHealthy?: () => Promise<boolean>;
  /** API_RATE_LIMIT: failed sign-ins per client address. */
  rateLimit?: RateLimit | null;
  /** STALE_* configuration: the freshness alerts' thresholds. */
  staleness?: Staleness;
  /** The writer's deps: with them the bank entry pages (/bank-entries…) are served, their forms decide through them. */
  ingest?: IngestDeps;
}

const LIST_LENGTH = 10;
/** Trends change slowly and read more than the rest: one reading per window serves every page load for this long. */
const TRENDS_CACHE_MS = 10_000;
const paymentId = clientText(200).pipe(z.string().min(1));
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const CHALLENGE = ['Basic realm="payrecon", charset="UTF-8"', 'Bearer realm="payrecon"'];

/** One row per topic and bounded source (`other` stands for the rest): the newest event of each. */
function newestPerSource<T extends { topic: string; source: string; last_event: Date }>(
  rows: T[],
  labels: LabelBounds,
): T[] {
  const newest = new Map<string, T>();
  for (const row of rows) {
    const bounded = { ...row, source: labels.source(row.source) };
    const key = `${bounded.topic}\u0000${bounded.source}`;
    const seen = newest.get(key);
    if (!seen || seen.last_event < bounded.last_event) newest.set(key, bounded);
  }
  return [...newest.values()];
}

function send(res: Response, status: number, body: Html): void {
  res.status(status);
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  // Authenticated pages hold payment details: never stored by a browser or proxy; the page depends on the credentials.
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Vary", "Authorization");
  res.send(body.text);
}

export function statusPageRouter(
  pool: pg.Pool,
  metrics: Metrics,
  tokens: ApiToken[],
  options: StatusPageOptions = {},
): Router {
  const router = express.Router();
  const accessOf = createAccessCheck(tokens);
  const topics = options.topics ?? DEFAULT_TOPICS;
  const signInLimit = createFailedSignInLimiter(options.rateLimit ?? null, (req) => accessOf(req).kind === "invalid");

  const readiness = async (): Promise<Readiness> => {
    const [migrated, kafka] = await Promise.all([
      migrationsApplied(pool).then(
        (ok) => ({ reachable: true, ok }),
        () => ({ reachable: false, ok: false }),
      ),
      options.kafkaHealthy ? options.kafkaHealthy().catch(() => false) : Promise.resolve(undefined),
    ]);
    return {
      ready: migrated.reachable && migrated.ok && kafka !== false,
      checks: {
        postgres: migrated.reachable ? "ok" : "unreachable",
        migrations: migrated.reachable ? (migrated.ok ? "ok" : "pending") : "unknown",
        kafka: kafka === undefined ? "not configured" : kafka ? "ok" : "unreachable",
      },
    };
  };

  const trendCache = new Map<TrendWindow, { at: number; value: Trends }>();
  const readTrends = async (window: TrendWindow, now: Date): Promise<Trends> => {
    const cached = trendCache.get(window);
    if (cached && now.getTime() - cached.at < TRENDS_CACHE_MS && now.getTime() >= cached.at) return cached.value;
    const range = trendRange(window, now);
    const [funds, failures, delay, categories] = await Promise.all([
      fundsAtRiskTrend(pool, range.instants),
      payoutFailuresTrend(pool, range),
      settlementDelayTrend(pool, range),
      failureCategoriesTrend(pool, range),
    ]);
    // Gateways bounded as the metrics are: a public page must not grow with producers' free text.
    const bounded = failures.map((row) => ({ ...row, gateway: metrics.labels.gateway(row.gateway) }));
    const value = trends({ funds, failures: bounded, delay, categories }, range, now);
    trendCache.set(window, { at: now.getTime(), value });
    return value;
  };

  const build = async () => {
    const labels = (await metrics.buildInfo.get()).values[0]?.labels;
    return { version: String(labels?.version ?? VERSION), commit: String(labels?.commit ?? "") };
  };

  const frame = async (access: Access) => ({
    now: new Date(),
    access,
    readiness: await readiness(),
    ...(await build()),
  });

  router.get("/", signInLimit, async (req, res) => {
    const access = accessOf(req);
    const base = await frame(access);
    const data: StatusPageData = {
      ...base,
      funds: [],
      ratios: [],
      held: [],
      summary: [],
      freshness: [],
      lag: consumerLag((await metrics.consumerLag.get()).values),
      kafkaConfigured: options.kafkaHealthy !== undefined,
      largestCurrency:
        typeof req.query.currency === "string" && isCurrency(req.query.currency) ? req.query.currency : undefined,
    };
    try {
      const window = isTrendWindow(req.query.window) ? req.query.window : DEFAULT_TREND_WINDOW;
      const [totals, summary, fresh, trendData] = await Promise.all([
        paymentTotals(pool),
        openExceptionSummary(pool),
        sourceFreshness(pool),
        readTrends(window, base.now),
      ]);
      data.trends = trendData;
      data.funds = fundsAtRisk(totals);
      // Gateways and sources bounded as the metrics are: a public page must not grow with producers' free text.
      const bounded = totals.map((total) => ({ ...total, gateway: metrics.labels.gateway(total.gateway) }));
      data.ratios = gatewayFailureRatios(bounded);
      data.held = heldPayments(bounded);
      data.summary = summary;
      data.freshness = freshness(newestPerSource(fresh, metrics.labels), topics, base.now, options.staleness);
      if (access.kind === "granted") {
        const [oldest, largest] = await Promise.all([
          oldestOpenExceptions(pool, LIST_LENGTH),
          largestOpenExceptionsPerCurrency(pool, LIST_LENGTH, data.largestCurrency),
        ]);
        data.oldest = oldest;
        data.largest = largestFirst(largest, LIST_LENGTH);
      }
    } catch {
      data.unavailable = "The database could not be read: the figures below are missing. Retrying on the next refresh.";
      send(res, 503, statusPage(data));
      return;
    }
    send(res, 200, statusPage(data));
  });

  // Browsers: asks for the token (as the password of HTTP Basic), which the browser then sends with every page.
  router.get("/login", signInLimit, async (req, res) => {
    const access = accessOf(req);
    if (access.kind === "granted") {
      res.setHeader("Cache-Control", "no-store");
      res.redirect(303, "/");
      return;
    }
    res.setHeader("WWW-Authenticate", CHALLENGE);
    send(
      res,
      401,
      messagePage({
        ...(await frame(access)),
        title: "Sign in",
        message: html`Give a <strong>viewer</strong> or <strong>operator</strong> token as the password (the user name
is ignored) when your browser asks. <a href="/login">Try again</a> or go back to the <a href="/">public view</a>.`,
      }),
    );
  });

  router.get("/payments/:id", signInLimit, async (req, res) => {
    const access = accessOf(req);
    const id = String(req.params.id);
    if (access.kind === "forbidden") {
      send(
        res,
        403,
        messagePage({
          ...(await frame(access)),
          title: "Not allowed",
          message: html`The <strong>${access.role}</strong> role cannot see payments; a <strong>viewer</strong> or
<strong>operator</strong> token can.`,
        }),
      );
      return;
    }
    if (access.kind !== "granted") {
      res.setHeader("WWW-Authenticate", CHALLENGE);
      send(
        res,
        401,
        messagePage({
          ...(await frame(access)),
          title: "Sign in to see payments",
          message: html`A payment's details need a <strong>viewer</strong> or <strong>operator</strong> token:
<a href="/login">sign in</a>, or send <code>Authorization: Bearer &lt;token&gt;</code>.`,
        }),
      );
      return;
    }
    const base = await frame(access);
    try {
      // An id no payment can have (empty, too long, a NUL PostgreSQL cannot compare) is simply not found.
      const payment = paymentId.safeParse(id).success ? await getPayment(pool, id) : undefined;
      if (!payment) {
        send(
          res,
          404,
          messagePage({ ...base, title: "No such payment", message: html`No expected payment has the id ${id}.` }),
        );
        return;
      }
      const [timeline, exceptions] = await Promise.all([paymentTimeline(pool, payment), exceptionsOfPayment(pool, id)]);
      send(res, 200, paymentPage({ ...base, payment, timeline, exceptions }));
    } catch {
      send(
        res,
        503,
        messagePage({ ...base, title: "Unavailable", message: html`The database could not be read; try again.` }),
      );
    }
  });

  router.get("/dunning", signInLimit, dunningPageHandler({ pool, accessOf, frame, send, challenge: CHALLENGE }));
  if (options.ingest) {
    router.use(
      bankEntryPagesRouter({ ingest: options.ingest, accessOf, frame, send, challenge: CHALLENGE, signInLimit }),
    );
  }
  return router;
}
