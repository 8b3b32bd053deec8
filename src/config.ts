import { readFileSync } from "node:fs";
import { z } from "zod";
import { priorityScale } from "./reconcile/priority.js";
import type { ReconcilePolicy } from "./reconcile/types.js";
import type { FeeRule } from "./reconcile/fees.js";

export type { ReconcilePolicy };
import { DEFAULT_STRIPE_API_VERSION } from "./consumers/stripeApi.js";
import { RUNBOOK_BASE_URL } from "./alerts/promql.js";
import { parseDuration } from "./durations.js";
import type { Staleness } from "./staleness.js";
import { parseRateLimit, type RateLimit } from "./http/rateLimit.js";
import { isTimeZone, parseReportSchedule, type ReportSchedule } from "./followup/reportSchedule.js";

/**
 * Every setting of payrecon, parsed once from the environment at start-up
 * (CONTRACT §6). Nothing else reads `process.env`: `main` calls `loadConfig`
 * and passes the result down, so tests can pass their own env.
 */

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${text}" is not a duration like 500ms, 30s, 15m, 72h or 3d` });
        return z.NEVER;
      }
      return ms;
    });

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .default("false")
  .transform((value) => value === "true" || value === "1" || value === "yes");

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const ROLES = ["viewer", "operator", "ingester"] as const;
export type Role = (typeof ROLES)[number];

export interface ApiToken {
  role: Role;
  token: string;
}

const apiTokens = z
  .string()
  .default("")
  .transform((text, ctx): ApiToken[] => {
    const tokens: ApiToken[] = [];
    for (const pair of text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)) {
      const colon = pair.indexOf(":");
      const role = pair.slice(0, colon);
      const token = pair.slice(colon + 1);
      if (colon < 1 || !(ROLES as readonly string[]).includes(role) || token.length === 0) {
        // Never echo the token itself: it is a secret.
        ctx.addIssue({ code: "custom", message: `each entry must be role:token with role one of ${ROLES.join(", ")}` });
        return z.NEVER;
      }
      // A token is one principal: viewer:v,operator:v used to leave v a viewer without a word.
      const other = tokens.find((known) => known.token === token && known.role !== role);
      if (other) {
        ctx.addIssue({
          code: "custom",
          message: `one token is given two roles (${other.role} and ${role}); each token has one role`,
        });
        return z.NEVER;
      }
      tokens.push({ role: role as Role, token });
    }
    return tokens;
  });

/**
 * A `key<separator>value` list, e.g. `stripe:100,adyen:50`: `keyOk` says which keys are allowed, `value`
 * reads a value (undefined: refused); `form` is what the error message shows.
 */
function valuesByKey(
  fallback: string,
  form: string,
  separator: string,
  keyOk: (key: string) => boolean,
  value: (text: string | undefined) => number | undefined,
) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const pair of text
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean)) {
        const [key, raw] = pair.split(separator);
        const parsed = value(raw);
        if (!key || !keyOk(key) || parsed === undefined) {
          ctx.addIssue({ code: "custom", message: `each entry must be ${form}, got "${pair}"` });
          return z.NEVER;
        }
        out[key] = parsed;
      }
      return out;
    });
}

/** A `key:number` list; `valueOk` says which numbers are allowed. */
const numbersByKey = (
  fallback: string,
  form: string,
  keyOk: (key: string) => boolean,
  valueOk: (n: number) => boolean,
) =>
  valuesByKey(fallback, form, ":", keyOk, (text) => {
    const n = Number(text);
    return valueOk(n) ? n : undefined;
  });

/** `adyen:2h,paypal:45m` — per-gateway silence tolerated before a gateway counts as stale, in seconds. */
const durationsBySource = valuesByKey(
  "",
  "gateway:duration (e.g. adyen:2h)",
  ":",
  (source) => /^[A-Za-z0-9_.-]{1,64}$/.test(source),
  (text) => {
    const ms = parseDuration(text ?? "");
    return ms === undefined || ms < 1_000 ? undefined : ms / 1_000;
  },
);

/** `USD=0.92,JPY=0.0061`: units of PRIORITY_REFERENCE_CURRENCY per major unit of each currency. */
const referenceRates = valuesByKey(
  "",
  "CURRENCY=rate (e.g. USD=0.92)",
  "=",
  (currency) => /^[A-Z]{3}$/.test(currency),
  (text) => {
    const rate = Number(text);
    return rate > 0 && Number.isFinite(rate) ? rate : undefined;
  },
);

/** `stripe:100,adyen:50` — per-gateway overrides of the amount tolerance, in minor units. */
const toleranceOverrides = numbersByKey(
  "",
  "gateway:minor_units",
  () => true,
  (n) => Number.isSafeInteger(n) && n >= 0,
);

/** `EUR:10000,USD:10000,*:10000`: the smallest amount at risk, in major units, that raises an item-level alert. */
const amountsByCurrency = numbersByKey(
  "*:10000",
  "CURRENCY:amount or *:amount",
  (key) => key === "*" || /^[A-Z]{3}$/.test(key),
  (n) => Number.isFinite(n) && n >= 0,
);

/**
 * `p1:100000:5d:24h,p2:10000:2d:3d,p3:0:0s:7d` — priority:minimum amount (major units):minimum age:resolve within.
 * An exception takes the first tier whose amount or age it reaches.
 */
const priorityTiers = z
  .string()
  .default("p1:100000:5d:24h,p2:10000:2d:3d,p3:0:0s:7d")
  .transform((text, ctx) => {
    const tiers = text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => {
        const [priority, amount, age, within] = part.split(":");
        return {
          priority: priority as "p1" | "p2" | "p3",
          minAmountMajor: Number(amount),
          minAgeMs: parseDuration(age ?? "") ?? Number.NaN,
          resolveWithinMs: parseDuration(within ?? "") ?? Number.NaN,
        };
      });
    const bad = tiers.find(
      (tier) =>
        !["p1", "p2", "p3"].includes(tier.priority) ||
        !(tier.minAmountMajor >= 0) ||
        Number.isNaN(tier.minAgeMs) ||
        Number.isNaN(tier.resolveWithinMs),
    );
    if (bad || tiers.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "each tier must be p1|p2|p3:amount:age:resolve_within, e.g. p1:100000:5d:24h",
      });
      return z.NEVER;
    }
    return tiers;
  });

/**
 * `stripe:EUR=1.4%+25,stripe:*=2.9%+30,adyen:*=0.6%+12` (CONTRACT §8): per gateway and currency (or `*`), percent of
 * each payment plus a fixed fee in minor units. Empty: fees are not checked.
 */
const FEE_RULE = /^([A-Za-z0-9_.-]+):([A-Z]{3}|\*)=(\d{1,3}(?:\.\d{1,4})?)%(?:\+(\d{1,9}))?$/;
const feeSchedule = z
  .string()
  .default("")
  .transform((text, ctx) => {
    const rules: FeeRule[] = [];
    for (const part of text
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean)) {
      const match = FEE_RULE.exec(part);
      const key = match ? `${match[1]}:${match[2]}` : "";
      if (!match || rules.some((rule) => `${rule.gateway}:${rule.currency}` === key)) {
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(part)}: each entry must be gateway:CURRENCY=percent%+fixed_minor (or gateway:*=…), once, e.g. stripe:EUR=1.4%+25`,
        });
        return z.NEVER;
      }
      rules.push({
        gateway: match[1]!,
        currency: match[2]!,
        percentPpm: Math.round(Number(match[3]) * 10_000),
        fixedMinor: Number(match[4] ?? 0),
      });
    }
    return rules;
  });

/**
 * FX_REFERENCE_RATES (CONTRACT §8 "FX"): `EURUSD=1.0842,GBPEUR=1.17`, each pair once: units of the second
 * currency per one of the first. The inverse pair is derived where a rate is used (src/reconcile/fx.ts).
 */
const FX_PAIR = /^([A-Z]{3})([A-Z]{3})=(\d{1,9}(?:\.\d{1,12})?)$/;
const fxReferenceRates = z
  .string()
  .default("")
  .transform((text, ctx) => {
    const rates: Record<string, number> = {};
    for (const part of text
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean)) {
      const match = FX_PAIR.exec(part);
      const [from, to, rate] = match ? [match[1]!, match[2]!, Number(match[3])] : ["", "", 0];
      if (!match || from === to || rate <= 0 || `${from}${to}` in rates || `${to}${from}` in rates) {
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(part)}: each entry must be a pair of two ISO 4217 codes and a positive rate, once per pair, e.g. EURUSD=1.0842`,
        });
        return z.NEVER;
      }
      rates[`${from}${to}`] = rate;
    }
    return rates;
  });

/** `2%`: a share written as a percent, to parts per million. */
const percentPpm = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const match = /^(\d{1,3}(?:\.\d{1,4})?)%$/.exec(text.trim());
      if (!match) {
        ctx.addIssue({ code: "custom", message: "must be a percent such as 2% or 0.5%" });
        return z.NEVER;
      }
      return Math.round(Number(match[1]) * 10_000);
    });

const brokers = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === "") return undefined;
    const list = text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
    for (const broker of list) {
      if (!/^[^\s:]+:\d{1,5}$/.test(broker)) {
        ctx.addIssue({ code: "custom", message: `"${broker}" is not host:port` });
        return z.NEVER;
      }
    }
    return list;
  });

/** `50/s`, `50/s:100` (burst), `3000/m`, or `off`: requests per principal to /api/v1. */
const rateLimit = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const limit = parseRateLimit(text);
      if (limit === undefined) {
        ctx.addIssue({ code: "custom", message: `"${text}" is not a rate like 50/s, 50/s:100 (burst), 3000/m or off` });
        return z.NEVER;
      }
      return limit;
    });

/** A topic that may be switched off with an empty value. */
const optionalTopic = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => (value.trim() === "" ? undefined : value.trim()));

/** Comma-separated secrets; several at once while one is rolled. */
const secretList = (check?: { pattern: RegExp; message: string }) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      const list = (text ?? "")
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean);
      if (check && list.some((secret) => !check.pattern.test(secret))) {
        ctx.addIssue({ code: "custom", message: check.message });
        return z.NEVER;
      }
      return list;
    });

/** A comma-separated list of label values (gateway or bank names as the messages spell them). */
const labelList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const list = text
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean);
      const bad = list.find((value) => !/^[A-Za-z0-9_.-]{1,64}$/.test(value));
      if (bad !== undefined) {
        ctx.addIssue({ code: "custom", message: `"${bad}" is not a name of letters, digits, _ . -` });
        return z.NEVER;
      }
      return list;
    });

/** The entries of a comma-separated value, trimmed, empty ones dropped. */
const listEntries = (text: string) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

/** `1d,3d,7d,14d`: durations in increasing order (the dunning steps after a payment became due or failed). */
const durationList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const parts = listEntries(text);
      const list = parts.map((part) => parseDuration(part));
      const bad = parts.find((_, index) => list[index] === undefined);
      if (bad !== undefined || list.length === 0) {
        ctx.addIssue({ code: "custom", message: `"${bad ?? text}" is not a list of durations like 1d,3d,7d,14d` });
        return z.NEVER;
      }
      if (list.some((ms, index) => index > 0 && ms! <= list[index - 1]!)) {
        ctx.addIssue({ code: "custom", message: "the steps must increase, like 1d,3d,7d,14d" });
        return z.NEVER;
      }
      return list as number[];
    });

/** `daily@06:00,weekly@mon06:00,monthly@1`: when periods close and their reports are stored. */
const reportSchedules = z
  .string()
  .default("")
  .transform((text, ctx) => {
    const list = listEntries(text);
    const parsed = list.map(parseReportSchedule);
    const bad = list.find((_, index) => parsed[index] === undefined);
    if (bad !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${bad}" is not daily@HH:MM, weekly@monHH:MM or monthly@D (optionally monthly@D/HH:MM)`,
      });
      return z.NEVER;
    }
    if (new Set(parsed.map((schedule) => schedule!.kind)).size !== parsed.length) {
      ctx.addIssue({ code: "custom", message: "at most one schedule per kind (daily, weekly, monthly)" });
      return z.NEVER;
    }
    return parsed as ReportSchedule[];
  });

/** Comma-separated http(s) URLs (notification webhooks). */
const urlList = z
  .string()
  .default("")
  .transform((text, ctx) => {
    const list = listEntries(text);
    const bad = list.find((value) => !URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol));
    if (bad !== undefined) {
      // The URL may carry a token: name its position, not its text.
      ctx.addIssue({ code: "custom", message: `entry ${list.indexOf(bad) + 1} is not an http(s) URL` });
      return z.NEVER;
    }
    return list;
  });

const url = (what: string) =>
  optionalText.refine((value) => value === undefined || URL.canParse(value), { message: `must be a ${what} URL` });

export const configSchema = z
  .object({
    DATABASE_URL: url("postgres://"),
    DATA_DIR: z.string().default("./.payrecon"),
    /** A statement running longer is cancelled (and its batch retried) rather than wedging a partition. */
    DATABASE_STATEMENT_TIMEOUT: duration("30s"),
    KAFKA_BROKERS: brokers,
    KAFKA_CLIENT_ID: z.string().min(1).default("payrecon"),
    KAFKA_GROUP_ID: z.string().min(1).default("payrecon"),
    KAFKA_SASL_MECHANISM: z.enum(["plain", "scram-sha-256", "scram-sha-512"]).optional(),
    KAFKA_SASL_USERNAME: optionalText,
    KAFKA_SASL_PASSWORD: optionalText,
    KAFKA_SSL: booleanFlag,
    TOPIC_EXPECTED: z.string().min(1).default("payments.expected"),
    TOPIC_GATEWAY: z.string().min(1).default("gateway.events"),
    TOPIC_BANK: z.string().min(1).default("bank.settlements"),
    TOPIC_DLQ: z.string().min(1).default("payrecon.dlq"),
    TOPIC_FINDINGS: z.string().min(1).default("payrecon.findings"),
    TOPIC_RAW_STRIPE: optionalTopic("gateway.raw.stripe"),
    TOPIC_RAW_ADYEN: optionalTopic("gateway.raw.adyen"),
    STRIPE_WEBHOOK_SECRETS: secretList(),
    STRIPE_WEBHOOK_TOLERANCE: duration("5m"),
    STRIPE_API_KEY: optionalText,
    STRIPE_API_URL: z.string().default("https://api.stripe.com").refine(URL.canParse, { message: "must be a URL" }),
    /** Pinned Stripe API version sent on every request (Stripe-Version); the adapters read this shape. */
    STRIPE_API_VERSION: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/, { message: "must be a Stripe API version such as 2024-06-20" })
      .default(DEFAULT_STRIPE_API_VERSION),
    STRIPE_PAYOUT_FETCH_INTERVAL: duration("1m"),
    ADYEN_HMAC_KEYS: secretList({
      pattern: /^(?:[0-9a-fA-F]{2})+$/,
      message: "each key must be hex, as the Customer Area shows it",
    }),
    HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HTTP_BODY_LIMIT: z.string().default("10mb"),
    /** Per principal (token, or client address when unauthenticated): reads and actions, and ingest. */
    API_RATE_LIMIT: rateLimit("50/s:100"),
    API_INGEST_RATE_LIMIT: rateLimit("200/s:1000"),
    API_TOKENS: apiTokens,
    HOLD_THRESHOLD: duration("72h"),
    MATCH_WINDOW: duration("3d"),
    UNMATCHED_GRACE: duration("24h"),
    PENDING_GRACE: duration("3d"),
    AMOUNT_TOLERANCE_MINOR: z.coerce.number().int().min(0).default(0),
    AMOUNT_TOLERANCE_BY_GATEWAY: toleranceOverrides,
    FEE_SCHEDULE: feeSchedule,
    FEE_TOLERANCE: percentPpm("2%"),
    FX_TOLERANCE: percentPpm("1%"),
    FX_REFERENCE_RATES: fxReferenceRates,
    SWEEP_INTERVAL: duration("30s"),
    /**
     * `sql`: each transaction finds in PostgreSQL what new facts touch (any number of instances).
     * `memory`: engine v2 — one process keeps every fact in memory (docs/architecture.md).
     */
    RECONCILE_ENGINE: z.enum(["sql", "memory"]).default("sql"),
    /** memory: a writer whose lock connection is silent this long (hung, cut off) loses the lock to a standby. */
    WRITER_LOCK_TIMEOUT: duration("30s"),
    /**
     * RECONCILE_ENGINE=memory: the late-truth window. A payment final this long (nothing but a late fact can change
     * it) leaves memory with its events and matched entries; a late fact that could touch it loads it back.
     */
    WORKING_SET_EVICT_AFTER: duration("24h"),
    ALERTMANAGER_URL: url("http(s)://"),
    ITEM_ALERT_MIN_AMOUNT: amountsByCurrency,
    EXCEPTION_PRIORITY_TIERS: priorityTiers,
    /** The tiers' amounts are in this currency; other currencies are converted with PRIORITY_RATES (or defaults). */
    PRIORITY_REFERENCE_CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, { message: "must be an ISO 4217 code such as EUR" })
      .default("EUR"),
    PRIORITY_RATES: referenceRates,
    ITEM_ALERT_INTERVAL: duration("30s"),
    /** When a source counts as silent, on the status page and in the generated freshness alerts alike. */
    STALE_GATEWAY_AFTER: duration("30m"),
    STALE_GATEWAY_AFTER_BY_SOURCE: durationsBySource,
    STALE_BANK_AFTER: duration("30h"),
    STALE_BANK_AFTER_WEEKEND: duration("78h"),
    /** Where docs/runbooks/ is published: every runbook link (item alerts, and the rule generator's default). */
    RUNBOOK_BASE_URL: z.string().default(RUNBOOK_BASE_URL).refine(URL.canParse, { message: "must be a URL" }),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** auto: lines for a person when the log goes to a terminal, JSON lines otherwise. */
    LOG_FORMAT: z.enum(["auto", "json", "text"]).default("auto"),
    KAFKA_BATCH_MAX_BYTES: positiveInt(4 * 1024 * 1024),
    /** Consumer group timings: a member silent this long is dropped and its partitions reassigned. */
    KAFKA_SESSION_TIMEOUT: duration("30s"),
    KAFKA_HEARTBEAT_INTERVAL: duration("3s"),
    KAFKA_REBALANCE_TIMEOUT: duration("60s"),
    /** How long a fetch waits for data: the floor of end-to-end latency when traffic is light. */
    KAFKA_MAX_WAIT: duration("100ms"),
    /**
     * Partitions fetched at once; their batches are stored together (group commit). At least the partitions an
     * instance holds: kafkajs fetches again only when every batch of the last fetch is stored, so fewer makes one
     * fetch several transactions in a row. Memory is bounded by KAFKA_BATCH_MAX_BYTES per fetch, not by this.
     */
    KAFKA_PARTITIONS_CONCURRENCY: positiveInt(256),
    /** Messages stored in one transaction at most (group commit): larger amortizes each commit, smaller detects sooner. */
    KAFKA_GROUP_MAX_MESSAGES: positiveInt(2_000),
    SHUTDOWN_TIMEOUT: duration("10s"),
    /** A rejected message's key and value are stored cut to this (original size and SHA-256 kept). */
    REJECTED_MESSAGE_MAX_BYTES: positiveInt(64 * 1024),
    /** Rejected messages older than this are deleted. */
    REJECTED_MESSAGES_RETENTION: duration("30d"),
    /** …and the oldest beyond this many stored bytes in all. */
    REJECTED_MESSAGES_MAX_TOTAL_BYTES: positiveInt(256 * 1024 * 1024),
    /** Gateway and bank names that are always their own metric label; others: the first METRIC_LABEL_MAX_SEEN, then `other`. */
    METRIC_GATEWAYS: labelList("stripe,adyen"),
    METRIC_BANKS: labelList(""),
    METRIC_LABEL_MAX_SEEN: z.coerce.number().int().min(0).max(1000).default(20),
    /** Follow-up (CONTRACT §9): dunning steps, notifications and their webhook delivery. */
    FOLLOWUP_INTERVAL: duration("30s"),
    DUNNING_SCHEDULE: durationList("1d,3d,7d,14d"),
    NOTIFY_WEBHOOK_URLS: urlList,
    NOTIFY_WEBHOOK_SECRET: optionalText,
    NOTIFY_MIN_PRIORITY: z.enum(["p1", "p2", "p3"]).default("p2"),
    NOTIFY_TIMEOUT: duration("10s"),
    NOTIFY_RETRY_MIN: duration("10s"),
    NOTIFY_RETRY_MAX: duration("1h"),
    NOTIFY_RETRY_FOR: duration("24h"),
    TOPIC_NOTIFICATIONS: optionalTopic("payrecon.notifications"),
    REPORT_SCHEDULE: reportSchedules,
    REPORT_TZ: z
      .string()
      .default("UTC")
      .refine(isTimeZone, { message: "must be an IANA time zone such as Europe/Berlin" }),
    /** Set by the Docker build; shown in payrecon_build_info. */
    BUILD_COMMIT: z.string().default("unknown"),
  })
  .superRefine((env, ctx) => {
    if (!priorityScale(env.PRIORITY_REFERENCE_CURRENCY, env.PRIORITY_RATES)) {
      ctx.addIssue({
        code: "custom",
        path: ["PRIORITY_REFERENCE_CURRENCY"],
        message: `${env.PRIORITY_REFERENCE_CURRENCY} has no default rate: give PRIORITY_RATES in it`,
      });
    }
    const saslSet = [env.KAFKA_SASL_MECHANISM, env.KAFKA_SASL_USERNAME, env.KAFKA_SASL_PASSWORD].filter(
      (value) => value !== undefined,
    ).length;
    if (saslSet !== 0 && saslSet !== 3) {
      ctx.addIssue({
        code: "custom",
        path: ["KAFKA_SASL_MECHANISM"],
        message: "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together",
      });
    }
    if (env.NOTIFY_WEBHOOK_URLS.length > 0 && env.NOTIFY_WEBHOOK_SECRET === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["NOTIFY_WEBHOOK_SECRET"],
        message: "required with NOTIFY_WEBHOOK_URLS: every notification is signed",
      });
    }
  });

type Env = z.output<typeof configSchema>;

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  databaseStatementTimeoutMs: number;
  kafka:
    | {
        brokers: string[];
        clientId: string;
        groupId: string;
        ssl: boolean;
        sasl:
          | { mechanism: "plain" | "scram-sha-256" | "scram-sha-512"; username: string; password: string }
          | undefined;
        batchMaxBytes: number;
        sessionTimeoutMs: number;
        heartbeatIntervalMs: number;
        rebalanceTimeoutMs: number;
        maxWaitMs: number;
        partitionsConcurrency: number;
        groupMaxMessages: number;
      }
    | undefined;
  topics: {
    expected: string;
    gateway: string;
    bank: string;
    dlq: string;
    findings: string;
    /** Gateways' own payloads, bridged to Kafka as they come; undefined: not consumed. */
    rawStripe: string | undefined;
    rawAdyen: string | undefined;
  };
  /** Native gateway adapters: webhook verification, and Stripe's API for our own payouts' composition. */
  gateways: {
    stripe: {
      webhookSecrets: string[];
      webhookToleranceMs: number;
      apiKey: string | undefined;
      apiUrl: string;
      apiVersion: string;
      payoutFetchIntervalMs: number;
    };
    adyen: { hmacKeys: string[] };
  };
  http: {
    port: number;
    bodyLimit: string;
    tokens: ApiToken[];
    /** null: not limited. */
    rateLimit: { api: RateLimit | null; ingest: RateLimit | null };
  };
  policy: ReconcilePolicy;
  sweepIntervalMs: number;
  reconcileEngine: "sql" | "memory";
  writerLockTimeoutMs: number;
  workingSetEvictAfterMs: number;
  shutdownTimeoutMs: number;
  alertmanagerUrl: string | undefined;
  itemAlerts: { minAmountMajor: Record<string, number>; intervalMs: number };
  /** When gateways and banks count as silent (status page and freshness alerts). */
  staleness: Staleness;
  /** Base URL of the runbooks (no trailing slash): item alerts' links and generated rules' default. */
  runbookBaseUrl: string;
  logLevel: Env["LOG_LEVEL"];
  logFormat: Env["LOG_FORMAT"];
  buildCommit: string;
  /** Bounds on stored rejected messages (every input path). */
  rejectedMessages: { maxBytes: number; retentionMs: number; maxTotalBytes: number };
  /** Label values fed by producers' free text: see metrics/labels.ts. */
  metricLabels: { gateways: string[]; banks: string[]; maxSeen: number };
  followUp: FollowUpConfig;
}

export interface FollowUpConfig {
  intervalMs: number;
  /** Offsets of the reminder steps from the moment a payment became due or failed. */
  dunningScheduleMs: number[];
  notify: {
    webhookUrls: string[];
    webhookSecret: string | undefined;
    minPriority: "p1" | "p2" | "p3";
    timeoutMs: number;
    retryMinMs: number;
    retryMaxMs: number;
    retryForMs: number;
    /** Kafka topic (only with KAFKA_BROKERS); undefined: not published. */
    topic: string | undefined;
  };
  /** Scheduled period reports; none: reports are on demand only. */
  reports: { schedules: ReportSchedule[]; tz: string };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Secrets that may instead be read from a file named by `<NAME>_FILE` (Docker and Kubernetes secrets). */
export const SECRET_VARIABLES = [
  "DATABASE_URL",
  "KAFKA_SASL_PASSWORD",
  "API_TOKENS",
  "STRIPE_WEBHOOK_SECRETS",
  "STRIPE_API_KEY",
  "ADYEN_HMAC_KEYS",
  "NOTIFY_WEBHOOK_SECRET",
] as const;

const isSet = (value: string | undefined) => value !== undefined && value.trim() !== "";

/** The environment with each `<SECRET>_FILE` replaced by the file's contents (its final newline dropped). */
function withSecretFiles(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (!isSet(file)) continue;
    if (isSet(env[name])) {
      throw new ConfigError(`invalid configuration: ${name}_FILE: ${name} is set too; set one of them`);
    }
    try {
      out[name] = readFileSync(file!.trim(), "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ConfigError(`invalid configuration: ${name}_FILE: cannot read ${file!.trim()} (${reason})`);
    }
  }
  return out;
}

/** Parse the environment; throws ConfigError with one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(withSecretFiles(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue?.path.join(".") || "environment";
    throw new ConfigError(`invalid configuration: ${variable}: ${issue?.message ?? "invalid"}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT,
    kafka: e.KAFKA_BROKERS
      ? {
          brokers: e.KAFKA_BROKERS,
          clientId: e.KAFKA_CLIENT_ID,
          groupId: e.KAFKA_GROUP_ID,
          ssl: e.KAFKA_SSL,
          sasl:
            e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD
              ? { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD }
              : undefined,
          batchMaxBytes: e.KAFKA_BATCH_MAX_BYTES,
          sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT,
          heartbeatIntervalMs: e.KAFKA_HEARTBEAT_INTERVAL,
          rebalanceTimeoutMs: e.KAFKA_REBALANCE_TIMEOUT,
          maxWaitMs: e.KAFKA_MAX_WAIT,
          partitionsConcurrency: e.KAFKA_PARTITIONS_CONCURRENCY,
          groupMaxMessages: e.KAFKA_GROUP_MAX_MESSAGES,
        }
      : undefined,
    topics: {
      expected: e.TOPIC_EXPECTED,
      gateway: e.TOPIC_GATEWAY,
      bank: e.TOPIC_BANK,
      dlq: e.TOPIC_DLQ,
      findings: e.TOPIC_FINDINGS,
      rawStripe: e.TOPIC_RAW_STRIPE,
      rawAdyen: e.TOPIC_RAW_ADYEN,
    },
    gateways: {
      stripe: {
        webhookSecrets: e.STRIPE_WEBHOOK_SECRETS,
        webhookToleranceMs: e.STRIPE_WEBHOOK_TOLERANCE,
        apiKey: e.STRIPE_API_KEY,
        apiUrl: e.STRIPE_API_URL,
        apiVersion: e.STRIPE_API_VERSION,
        payoutFetchIntervalMs: e.STRIPE_PAYOUT_FETCH_INTERVAL,
      },
      adyen: { hmacKeys: e.ADYEN_HMAC_KEYS },
    },
    http: {
      port: e.HTTP_PORT,
      bodyLimit: e.HTTP_BODY_LIMIT,
      tokens: e.API_TOKENS,
      rateLimit: { api: e.API_RATE_LIMIT, ingest: e.API_INGEST_RATE_LIMIT },
    },
    policy: {
      holdThresholdMs: e.HOLD_THRESHOLD,
      matchWindowMs: e.MATCH_WINDOW,
      unmatchedGraceMs: e.UNMATCHED_GRACE,
      pendingGraceMs: e.PENDING_GRACE,
      amountToleranceMinor: e.AMOUNT_TOLERANCE_MINOR,
      amountToleranceByGateway: e.AMOUNT_TOLERANCE_BY_GATEWAY,
      feeSchedule: e.FEE_SCHEDULE,
      feeTolerancePpm: e.FEE_TOLERANCE,
      fxTolerancePpm: e.FX_TOLERANCE,
      fxReferenceRates: e.FX_REFERENCE_RATES,
      priorityTiers: e.EXCEPTION_PRIORITY_TIERS,
      priorityScale: priorityScale(e.PRIORITY_REFERENCE_CURRENCY, e.PRIORITY_RATES)!,
    },
    sweepIntervalMs: e.SWEEP_INTERVAL,
    reconcileEngine: e.RECONCILE_ENGINE,
    writerLockTimeoutMs: e.WRITER_LOCK_TIMEOUT,
    workingSetEvictAfterMs: e.WORKING_SET_EVICT_AFTER,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    alertmanagerUrl: e.ALERTMANAGER_URL,
    itemAlerts: { minAmountMajor: e.ITEM_ALERT_MIN_AMOUNT, intervalMs: e.ITEM_ALERT_INTERVAL },
    staleness: {
      gatewayStaleSeconds: Math.ceil(e.STALE_GATEWAY_AFTER / 1_000),
      gatewayStaleSecondsBySource: e.STALE_GATEWAY_AFTER_BY_SOURCE,
      bankStaleSeconds: Math.ceil(e.STALE_BANK_AFTER / 1_000),
      bankStaleSecondsAfterWeekend: Math.ceil(e.STALE_BANK_AFTER_WEEKEND / 1_000),
    },
    runbookBaseUrl: e.RUNBOOK_BASE_URL.replace(/\/+$/, ""),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    buildCommit: e.BUILD_COMMIT,
    rejectedMessages: {
      maxBytes: e.REJECTED_MESSAGE_MAX_BYTES,
      retentionMs: e.REJECTED_MESSAGES_RETENTION,
      maxTotalBytes: e.REJECTED_MESSAGES_MAX_TOTAL_BYTES,
    },
    metricLabels: { gateways: e.METRIC_GATEWAYS, banks: e.METRIC_BANKS, maxSeen: e.METRIC_LABEL_MAX_SEEN },
    followUp: {
      intervalMs: e.FOLLOWUP_INTERVAL,
      dunningScheduleMs: e.DUNNING_SCHEDULE,
      notify: {
        webhookUrls: e.NOTIFY_WEBHOOK_URLS,
        webhookSecret: e.NOTIFY_WEBHOOK_SECRET,
        minPriority: e.NOTIFY_MIN_PRIORITY,
        timeoutMs: e.NOTIFY_TIMEOUT,
        retryMinMs: e.NOTIFY_RETRY_MIN,
        retryMaxMs: e.NOTIFY_RETRY_MAX,
        retryForMs: e.NOTIFY_RETRY_FOR,
        topic: e.TOPIC_NOTIFICATIONS,
      },
      reports: { schedules: e.REPORT_SCHEDULE, tz: e.REPORT_TZ },
    },
  };
}
