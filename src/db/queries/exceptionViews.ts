import { pushTo } from "../../grouping.js";
import type { Db } from "../pool.js";

/** Read and operator-action queries of exceptions for the API. */

export interface ExceptionViewRow {
  id: number;
  kind: string;
  subject_type: string;
  subject_key: string;
  payment_id: string | null;
  bank: string | null;
  entry_id: string | null;
  gateway: string | null;
  event_id: string | null;
  batch_id: string | null;
  amount_minor: number;
  currency: string;
  direction: string | null;
  detail: string;
  state: "open" | "acknowledged" | "resolved";
  priority: string;
  due_by: Date | null;
  opened_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  resolution: string | null;
}

export interface AuditRow {
  exception_id: number;
  at: Date;
  actor: string;
  action: string;
  note: string | null;
}

export interface ExceptionFilters {
  states: string[];
  kind?: string;
  gateway?: string;
  currency?: string;
  priority?: string;
  paymentId?: string;
  minAmountMinor?: number;
  openedBefore?: Date;
  limit: number;
  after?: { openedAt: Date; id: number };
}

/** Oldest first (the work queue order), keyset-paginated on (opened_at, id). */
export async function listExceptions(db: Db, filters: ExceptionFilters): Promise<ExceptionViewRow[]> {
  const result = await db.query<ExceptionViewRow>(
    `select * from exceptions
      where state = any($1::text[]) and ($2::text is null or kind = $2) and ($3::text is null or gateway = $3)
        and ($4::text is null or currency = $4) and ($5::text is null or priority = $5)
        and ($6::text is null or payment_id = $6) and ($7::bigint is null or amount_minor >= $7)
        and ($8::timestamptz is null or opened_at <= $8)
        and ($9::timestamptz is null or (opened_at, id) > ($9, $10::bigint))
      order by opened_at, id
      limit $11`,
    [
      filters.states,
      filters.kind ?? null,
      filters.gateway ?? null,
      filters.currency ?? null,
      filters.priority ?? null,
      filters.paymentId ?? null,
      filters.minAmountMinor ?? null,
      filters.openedBefore ?? null,
      filters.after?.openedAt ?? null,
      filters.after?.id ?? null,
      filters.limit,
    ],
  );
  return result.rows;
}

export async function auditOf(db: Db, ids: number[]): Promise<Map<number, AuditRow[]>> {
  const out = new Map<number, AuditRow[]>();
  if (ids.length === 0) return out;
  const result = await db.query<AuditRow>(
    "select exception_id, at, actor, action, note from exception_audit where exception_id = any($1::bigint[]) order by id",
    [ids],
  );
  for (const row of result.rows) pushTo(out, row.exception_id, row);
  return out;
}

export async function lockException(db: Db, id: number): Promise<ExceptionViewRow | undefined> {
  const result = await db.query<ExceptionViewRow>("select * from exceptions where id = $1 for update", [id]);
  return result.rows[0];
}

export async function setExceptionState(
  db: Db,
  id: number,
  state: "open" | "acknowledged" | "resolved",
  at: Date,
): Promise<void> {
  await db.query(
    `update exceptions set state = $2::text, updated_at = $3::timestamptz,
            resolved_at = case when $2::text = 'resolved' then $3::timestamptz else null end,
            resolution = case when $2::text = 'resolved' then 'manual' else null end
      where id = $1`,
    [id, state, at],
  );
}
