/**
 * When a source counts as silent: one definition for the status page's "stale" badge and the generated
 * freshness alerts (PayreconGatewayEventsStale, PayreconBankStatementMissing). Configured by
 * STALE_GATEWAY_AFTER, STALE_GATEWAY_AFTER_BY_SOURCE, STALE_BANK_AFTER and STALE_BANK_AFTER_WEEKEND.
 */
export interface Staleness {
  /** Silence from a gateway tolerated (age of its newest event). Default 30m. */
  gatewayStaleSeconds: number;
  /** Per-gateway overrides, for PSPs that are quiet for hours by nature. */
  gatewayStaleSecondsBySource: Record<string, number>;
  /** Age of a bank's newest statement entry tolerated Wednesday to Saturday (UTC). Default 30h. */
  bankStaleSeconds: number;
  /**
   * Tolerated Sunday to Tuesday (UTC): banks deliver statements per business day, so Friday's statement
   * (Saturday morning) is the newest until Monday's arrives on Tuesday morning. Default 78h.
   */
  bankStaleSecondsAfterWeekend: number;
}

export const DEFAULT_STALENESS: Staleness = {
  gatewayStaleSeconds: 1_800,
  gatewayStaleSecondsBySource: {},
  bankStaleSeconds: 30 * 3_600,
  bankStaleSecondsAfterWeekend: 78 * 3_600,
};

/** Sunday to Tuesday in UTC: PromQL's `day_of_week() <= 2`, as the rule's recorded threshold has it. */
export function afterWeekend(now: Date): boolean {
  return now.getUTCDay() <= 2;
}

/** The silence tolerated from this source at `now`, in seconds. */
export function staleAfterSeconds(staleness: Staleness, kind: "gateway" | "bank", source: string, now: Date): number {
  if (kind === "gateway") return staleness.gatewayStaleSecondsBySource[source] ?? staleness.gatewayStaleSeconds;
  return afterWeekend(now) ? staleness.bankStaleSecondsAfterWeekend : staleness.bankStaleSeconds;
}
