import type { Db } from "../pool.js";
import { fullStatusChangeDetail } from "./paymentState.js";

/**
 * Findings as rows already written (000090): status changes and exception audit rows carrying a `finding`,
 * followed by findings_cursor in (at, id) order, which is commit order (src/kafka/findingsPublisher.ts).
 */

/** A committed status change, as the publisher reads it. */
export interface StatusChangeFinding {
  paymentId: string;
  at: Date;
  fromStatus: string | null;
  toStatus: string;
  reason: string;
  detail: Record<string, unknown>;
  /** What the finding says beyond the row (writer/findings.ts paymentFindingFields), as it was at the change. */
  fields: Record<string, unknown>;
}

/** A committed exception change that is a finding, as the publisher reads it. */
export interface ExceptionChangeFinding {
  exceptionId: number;
  at: Date;
  action: string;
  /** writer/findings.ts exceptionFindingFields at the change. */
  fields: Record<string, unknown>;
}

export type FindingRow =
  | ({ source: "status_change"; id: number } & StatusChangeFinding)
  | ({ source: "exception_audit"; id: number } & ExceptionChangeFinding);

/** Locks the cursor; false when another publisher holds it (it publishes these findings, in order). */
export async function lockFindingsCursor(db: Db): Promise<boolean> {
  const result = await db.query("select 1 from findings_cursor for update skip locked");
  return result.rowCount === 1;
}

/**
 * The next `limit` findings after the cursor, in commit order: by reconciliation time, a transaction's status
 * changes before its exception changes (as it wrote them), then by id.
 */
export async function findingsAfterCursor(db: Db, limit: number): Promise<FindingRow[]> {
  const result = await db.query<{
    source: 0 | 1;
    id: number;
    at: Date;
    payment_id: string | null;
    from_status: string | null;
    to_status: string | null;
    reason: string | null;
    detail: Record<string, unknown> | null;
    exception_id: number | null;
    action: string | null;
    finding: Record<string, unknown>;
    reference: string | null;
    gateway: string | null;
    direction: string | null;
    currency: string | null;
    amount_minor: number | null;
    counterparty: string | null;
  }>(
    `with c as materialized (select * from findings_cursor)
     select * from (
       (select 0 as source, s.id, s.at, s.payment_id, s.from_status, s.to_status, s.reason, s.detail,
               null::bigint as exception_id, null::text as action, s.finding,
               -- The identity in force at the change (see statusChangeFindingFields), unless the row keeps it.
               p.reference, p.gateway, p.direction, p.currency, p.amount_minor, p.counterparty
          from status_changes s
          left join payments p on p.id = s.payment_id and not s.finding ? 'reference'
         where s.finding is not null
           and (s.at, s.id) > ((select status_change_at from c), (select status_change_id from c))
         order by s.at, s.id limit $1)
       union all
       (select 1, a.id, a.at, null, null, null, null, null, a.exception_id, a.action, a.finding,
               null, null, null, null, null, null
          from exception_audit a
         where a.finding is not null
           and (a.at, a.id) > ((select exception_audit_at from c), (select exception_audit_id from c))
         order by a.at, a.id limit $1)
     ) f order by at, source, id limit $1`,
    [limit],
  );
  return result.rows.map(
    (row): FindingRow =>
      row.source === 0
        ? {
            source: "status_change",
            id: row.id,
            at: row.at,
            paymentId: row.payment_id!,
            fromStatus: row.from_status,
            toStatus: row.to_status!,
            reason: row.reason!,
            detail: fullStatusChangeDetail(row.detail),
            fields: statusChangeFields(row.finding, row),
          }
        : {
            source: "exception_audit",
            id: row.id,
            at: row.at,
            exceptionId: row.exception_id!,
            action: row.action!,
            fields: row.finding,
          },
  );
}

/** A status change's stored finding fields with the defaults writer/findings.ts statusChangeFindingFields left out. */
export function withFindingDefaults(kept: Record<string, unknown>): Record<string, unknown> {
  return {
    ...kept,
    retry_advice: kept.retry_advice ?? null,
    hold_reason: kept.hold_reason ?? null,
    flags: kept.flags ?? [],
  };
}

/**
 * A status change's finding fields: the row's own when it keeps them all (rows written before 000110, and rows
 * an amendment froze), else the payment's identity with what the row keeps (writer/findings.ts).
 */
function statusChangeFields(
  kept: Record<string, unknown>,
  payment: {
    reference: unknown;
    gateway: unknown;
    direction: unknown;
    currency: unknown;
    amount_minor: unknown;
    counterparty: unknown;
  },
): Record<string, unknown> {
  if ("reference" in kept) return kept;
  const { reference, gateway, direction, currency, amount_minor, counterparty } = payment;
  return { reference, gateway, direction, currency, amount_minor, counterparty, ...withFindingDefaults(kept) };
}

/** Moves the cursor past `published` (in the order findingsAfterCursor returned them). */
export async function advanceFindingsCursor(db: Db, published: FindingRow[]): Promise<void> {
  const last = (source: FindingRow["source"]) => published.filter((row) => row.source === source).at(-1);
  const status = last("status_change");
  const audit = last("exception_audit");
  if (!status && !audit) return;
  await db.query(
    `update findings_cursor
        set status_change_at = coalesce($1, status_change_at), status_change_id = coalesce($2, status_change_id),
            exception_audit_at = coalesce($3, exception_audit_at), exception_audit_id = coalesce($4, exception_audit_id)`,
    [status?.at ?? null, status?.id ?? null, audit?.at ?? null, audit?.id ?? null],
  );
}

/** When the oldest finding not yet published was committed (its reconciliation time); null when none waits. */
export async function oldestUnpublishedFinding(db: Db): Promise<Date | null> {
  const result = await db.query<{ at: Date | null }>(
    `with c as materialized (select * from findings_cursor)
     select least(
       (select s.at from status_changes s where s.finding is not null
           and (s.at, s.id) > ((select status_change_at from c), (select status_change_id from c))
         order by s.at, s.id limit 1),
       (select a.at from exception_audit a where a.finding is not null
           and (a.at, a.id) > ((select exception_audit_at from c), (select exception_audit_id from c))
         order by a.at, a.id limit 1)) as at`,
  );
  return result.rows[0]?.at ?? null;
}

/** Findings committed and not yet published (an index range count: cheap while the publisher keeps up). */
export async function countUnpublishedFindings(db: Db): Promise<number> {
  const result = await db.query<{ count: number }>(
    `with c as materialized (select * from findings_cursor)
     select (select count(*) from status_changes s where s.finding is not null
               and (s.at, s.id) > ((select status_change_at from c), (select status_change_id from c)))
          + (select count(*) from exception_audit a where a.finding is not null
               and (a.at, a.id) > ((select exception_audit_at from c), (select exception_audit_id from c)))
            as count`,
  );
  return Number(result.rows[0]?.count ?? 0);
}
