import type { Access } from "./access.js";
import type { StatusExceptionRow } from "../../db/queries/statusPage.js";
import { DEFAULT_STALENESS, type Staleness, staleAfterSeconds as staleAfterSecondsOf } from "../../staleness.js";
import { ageSeconds, majorUnits } from "./format.js";

/** The status page's data, shaped from the query rows: pure functions of rows and `now`. */

export const AT_RISK_STATUSES = ["failed", "held", "delayed", "mismatch"] as const;
export type AtRiskStatus = (typeof AT_RISK_STATUSES)[number];

/** A gateway's failure ratio is flagged from this share of outcomes… */
export const FAILURE_RATIO_FLAG = 0.05;
/** …once it has at least this many outcomes (1 failure out of 2 is not an outage). Same as the alert's defaults. */
export const FAILURE_RATIO_MIN_OUTCOMES = 10;

export interface TotalsRow {
  status: string;
  direction: string;
  gateway: string;
  currency: string;
  count: number;
  at_risk_minor: number;
}

export interface FundsAtRiskRow {
  currency: string;
  direction: string;
  byStatus: Record<AtRiskStatus, { amountMinor: number; count: number }>;
  totalMinor: number;
  totalCount: number;
}

export function fundsAtRisk(totals: TotalsRow[]): FundsAtRiskRow[] {
  const rows = new Map<string, FundsAtRiskRow>();
  for (const total of totals) {
    if (!(AT_RISK_STATUSES as readonly string[]).includes(total.status)) continue;
    if (total.count === 0 && total.at_risk_minor === 0) continue;
    const key = `${total.currency}\u0000${total.direction}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        currency: total.currency,
        direction: total.direction,
        byStatus: Object.fromEntries(
          AT_RISK_STATUSES.map((s) => [s, { amountMinor: 0, count: 0 }]),
        ) as FundsAtRiskRow["byStatus"],
        totalMinor: 0,
        totalCount: 0,
      };
      rows.set(key, row);
    }
    const cell = row.byStatus[total.status as AtRiskStatus];
    cell.amountMinor += total.at_risk_minor;
    cell.count += total.count;
    row.totalMinor += total.at_risk_minor;
    row.totalCount += total.count;
  }
  return [...rows.values()].sort(
    (a, b) => a.currency.localeCompare(b.currency) || a.direction.localeCompare(b.direction),
  );
}

export interface Outcomes {
  failed: number;
  settled: number;
  ratio: number | null;
  flagged: boolean;
}

export interface GatewayFailureRow {
  gateway: string;
  payout: Outcomes;
  collection: Outcomes;
  all: Outcomes;
}

function outcomes(failed: number, settled: number): Outcomes {
  const total = failed + settled;
  const ratio = total === 0 ? null : failed / total;
  return {
    failed,
    settled,
    ratio,
    flagged: ratio !== null && total >= FAILURE_RATIO_MIN_OUTCOMES && ratio >= FAILURE_RATIO_FLAG,
  };
}

/** failed / (settled + failed) per gateway, from the current status of every payment (payment_totals). */
export function gatewayFailureRatios(totals: TotalsRow[]): GatewayFailureRow[] {
  const counts = new Map<string, { payout: [number, number]; collection: [number, number] }>();
  for (const total of totals) {
    if (total.status !== "failed" && total.status !== "settled") continue;
    if (total.direction !== "payout" && total.direction !== "collection") continue;
    const entry = counts.get(total.gateway) ?? { payout: [0, 0], collection: [0, 0] };
    entry[total.direction][total.status === "failed" ? 0 : 1] += total.count;
    counts.set(total.gateway, entry);
  }
  return [...counts.entries()]
    .map(([gateway, c]) => ({
      gateway,
      payout: outcomes(c.payout[0], c.payout[1]),
      collection: outcomes(c.collection[0], c.collection[1]),
      all: outcomes(c.payout[0] + c.collection[0], c.payout[1] + c.collection[1]),
    }))
    .sort((a, b) => (b.all.ratio ?? -1) - (a.all.ratio ?? -1) || a.gateway.localeCompare(b.gateway));
}

export interface HeldRow {
  gateway: string;
  direction: string;
  count: number;
}

/** Payments held now (compliance reviews, captures in no batch), per gateway and direction, most first. */
export function heldPayments(totals: TotalsRow[]): HeldRow[] {
  const held = new Map<string, HeldRow>();
  for (const total of totals) {
    if (total.status !== "held" || total.count === 0) continue;
    const key = `${total.gateway}\u0000${total.direction}`;
    const row = held.get(key) ?? { gateway: total.gateway, direction: total.direction, count: 0 };
    row.count += total.count;
    held.set(key, row);
  }
  return [...held.values()].sort((a, b) => b.count - a.count || a.gateway.localeCompare(b.gateway));
}

/** Largest first across currencies, compared in major units (no FX conversion). */
export function largestFirst(rows: StatusExceptionRow[], limit: number): StatusExceptionRow[] {
  return [...rows]
    .sort(
      (a, b) =>
        majorUnits(b.amount_minor, b.currency) - majorUnits(a.amount_minor, a.currency) ||
        a.opened_at.getTime() - b.opened_at.getTime() ||
        a.id - b.id,
    )
    .slice(0, limit);
}

export type SourceKind = "gateway" | "bank" | "expected";

export interface FreshnessRow {
  source: string;
  kind: SourceKind;
  topic: string;
  lastEvent: Date;
  ageSeconds: number;
  /** Undefined when no threshold applies (the order systems' expected payments). */
  staleAfterSeconds: number | undefined;
  stale: boolean;
}

export interface TopicNames {
  expected: string;
  gateway: string;
  bank: string;
  rawStripe?: string | undefined;
  rawAdyen?: string | undefined;
}

export const DEFAULT_TOPICS: TopicNames = {
  expected: "payments.expected",
  gateway: "gateway.events",
  bank: "bank.settlements",
  rawStripe: "gateway.raw.stripe",
  rawAdyen: "gateway.raw.adyen",
};

const KIND_ORDER: Record<SourceKind, number> = { gateway: 0, bank: 1, expected: 2 };

export function freshness(
  rows: Array<{ topic: string; source: string; last_event: Date }>,
  topics: TopicNames,
  now: Date,
  staleness: Staleness = DEFAULT_STALENESS,
): FreshnessRow[] {
  return rows
    .map((row): FreshnessRow => {
      const gatewayTopic = [topics.gateway, topics.rawStripe, topics.rawAdyen].includes(row.topic);
      const kind: SourceKind = row.topic === topics.bank ? "bank" : gatewayTopic ? "gateway" : "expected";
      // The thresholds the freshness alerts use (STALE_* configuration).
      const staleAfterSeconds = kind === "expected" ? undefined : staleAfterSecondsOf(staleness, kind, row.source, now);
      const age = ageSeconds(row.last_event, now);
      return {
        source: row.source,
        kind,
        topic: row.topic,
        lastEvent: row.last_event,
        ageSeconds: age,
        staleAfterSeconds,
        stale: staleAfterSeconds !== undefined && age > staleAfterSeconds,
      };
    })
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.source.localeCompare(b.source));
}

export interface LagRow {
  topic: string;
  total: number;
  partitions: Array<{ partition: string; lag: number }>;
}

export function consumerLag(values: Array<{ labels: Record<string, string | number | undefined>; value: number }>) {
  const topics = new Map<string, LagRow>();
  for (const sample of values) {
    const topic = String(sample.labels.topic ?? "");
    const row = topics.get(topic) ?? { topic, total: 0, partitions: [] };
    row.total += sample.value;
    row.partitions.push({ partition: String(sample.labels.partition ?? ""), lag: sample.value });
    topics.set(topic, row);
  }
  for (const row of topics.values()) row.partitions.sort((a, b) => Number(a.partition) - Number(b.partition));
  return [...topics.values()].sort((a, b) => a.topic.localeCompare(b.topic));
}

export interface ExceptionSummaryRow {
  kind: string;
  currency: string;
  count: number;
  amount_minor: number;
  oldest: Date;
}

export interface Readiness {
  ready: boolean;
  checks: { postgres: string; migrations: string; kafka: string };
}

/** What every page of the site shows in its header: the time, build, readiness and who is looking. */
export interface PageFrame {
  now: Date;
  access: Access;
  readiness: Readiness;
  version: string;
  commit: string;
}
