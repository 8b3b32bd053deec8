import { DEFAULT_PRIORITY_TIERS, type PriorityTier } from "../../reconcile/priority.js";
import { type DesiredException, subjectKey } from "../../reconcile/exceptions.js";
import type { Db } from "../pool.js";

/**
 * Exception rows and their audit trail. Rows are never deleted: the
 * reconciler opens, auto-resolves and re-opens them, operators acknowledge,
 * note and resolve them; every change appends to exception_audit.
 */

export const SYSTEM_ACTOR = "payrecon";

export interface ExceptionRow {
  id: number;
  kind: string;
  subjectKey: string;
  owner: string;
  state: "open" | "acknowledged" | "resolved";
  amountMinor: number;
  detail: string;
  resolution: string | null;
}

function toRow(row: {
  id: number;
  kind: string;
  subject_key: string;
  owner: string;
  state: ExceptionRow["state"];
  amount_minor: number;
  detail: string;
  resolution: string | null;
}): ExceptionRow {
  return {
    id: row.id,
    kind: row.kind,
    subjectKey: row.subject_key,
    owner: row.owner,
    state: row.state,
    amountMinor: row.amount_minor,
    detail: row.detail,
    resolution: row.resolution,
  };
}

/** Open or acknowledged exceptions decided by these owners. */
export async function unresolvedByOwner(db: Db, owners: string[]): Promise<ExceptionRow[]> {
  if (owners.length === 0) return [];
  const result = await db.query(
    `select id, kind, subject_key, owner, state, amount_minor, detail, resolution from exceptions
      where owner = any($1::text[]) and state <> 'resolved'`,
    [owners],
  );
  return result.rows.map(toRow);
}

export async function exceptionsByKey(
  db: Db,
  keys: Array<{ kind: string; subjectKey: string }>,
): Promise<ExceptionRow[]> {
  if (keys.length === 0) return [];
  const result = await db.query(
    `select id, kind, subject_key, owner, state, amount_minor, detail, resolution from exceptions
      where (kind, subject_key) in (select * from unnest($1::text[], $2::text[]))`,
    [keys.map((key) => key.kind), keys.map((key) => key.subjectKey)],
  );
  return result.rows.map(toRow);
}

export interface OpenRequest {
  desired: DesiredException;
  owner: string;
  priority: string;
  dueBy: Date | null;
}

/** Inserts new exceptions, returning their ids in input order. */
export async function insertExceptions(db: Db, requests: OpenRequest[], now: Date): Promise<number[]> {
  if (requests.length === 0) return [];
  const subject = (request: OpenRequest) => request.desired.subject;
  const field = (request: OpenRequest, name: string): string | null => {
    const value = (subject(request) as Record<string, string>)[name];
    return value ?? null;
  };
  const result = await db.query<{ id: number }>(
    `insert into exceptions (kind, subject_type, subject_key, owner, payment_id, bank, entry_id, gateway, event_id,
                             batch_id, amount_minor, currency, direction, detail, state, priority, due_by, opened_at,
                             updated_at)
     select t.kind, t.subject_type, t.subject_key, t.owner, t.payment_id, t.bank, t.entry_id, t.gateway, t.event_id,
            t.batch_id, t.amount, t.currency, t.direction, t.detail, 'open', t.priority, t.due_by, $17, $17
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                   $9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],
                   $16::timestamptz[]) with ordinality
         as t(kind, subject_type, subject_key, owner, payment_id, bank, entry_id, gateway, event_id, batch_id, amount,
              currency, direction, detail, priority, due_by, ord)
      order by t.ord
     returning id`,
    [
      requests.map((r) => r.desired.kind),
      requests.map((r) => subject(r).type),
      requests.map((r) => subjectKey(subject(r))),
      requests.map((r) => r.owner),
      requests.map((r) => field(r, "paymentId")),
      requests.map((r) => field(r, "bank")),
      requests.map((r) => field(r, "entryId")),
      requests.map((r) => field(r, "gateway") ?? r.desired.gateway),
      requests.map((r) => field(r, "eventId")),
      requests.map((r) => field(r, "batchId")),
      requests.map((r) => r.desired.amountMinor),
      requests.map((r) => r.desired.currency),
      requests.map((r) => r.desired.direction),
      requests.map((r) => r.desired.detail),
      requests.map((r) => r.priority),
      requests.map((r) => r.dueBy),
      now,
    ],
  );
  return result.rows.map((row) => row.id);
}

export interface ExceptionUpdate {
  id: number;
  state: ExceptionRow["state"];
  owner: string;
  amountMinor: number;
  detail: string;
  /** null keeps the stored priority / deadline. */
  priority: string | null;
  dueBy: Date | null;
  resolved: boolean;
}

export async function updateExceptions(db: Db, updates: ExceptionUpdate[], now: Date): Promise<void> {
  if (updates.length === 0) return;
  await db.query(
    `update exceptions x set state = t.state, owner = t.owner, amount_minor = t.amount, detail = t.detail,
            priority = coalesce(t.priority, x.priority), due_by = coalesce(t.due_by, x.due_by), updated_at = $9::timestamptz,
            resolved_at = case when t.resolved then $9::timestamptz else null end,
            resolution = case when t.resolved then 'auto' else null end
       from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[],
                   $8::bool[]) as t(id, state, owner, amount, detail, priority, due_by, resolved)
      where x.id = t.id`,
    [
      updates.map((u) => u.id),
      updates.map((u) => u.state),
      updates.map((u) => u.owner),
      updates.map((u) => u.amountMinor),
      updates.map((u) => u.detail),
      updates.map((u) => u.priority),
      updates.map((u) => u.dueBy),
      updates.map((u) => u.resolved),
      now,
    ],
  );
}

export interface AuditEntry {
  exceptionId: number;
  actor: string;
  action: string;
  note: string | null;
  /** What the change's finding says beyond this row (writer/findings.ts); absent when it is not a finding. */
  finding?: Record<string, unknown> | undefined;
}

export async function appendAudit(db: Db, entries: AuditEntry[], at: Date): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `insert into exception_audit (exception_id, at, actor, action, note, finding)
     select t.id, $5, t.actor, t.action, t.note, t.finding::jsonb
       from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $6::text[])
            with ordinality as t(id, actor, action, note, finding, ord)
      order by t.ord`,
    [
      entries.map((e) => e.exceptionId),
      entries.map((e) => e.actor),
      entries.map((e) => e.action),
      entries.map((e) => e.note),
      at,
      entries.map((e) => (e.finding ? JSON.stringify(e.finding) : null)),
    ],
  );
}

/**
 * Exceptions grow more urgent as they age: those open longer than a tier's
 * age are raised to it, their deadline brought forward (never pushed back).
 * Returns how many were raised.
 */
export async function escalateByAge(
  db: Db,
  now: Date,
  tiers: PriorityTier[] = DEFAULT_PRIORITY_TIERS,
): Promise<number> {
  let raised = 0;
  for (const [index, tier] of tiers.entries()) {
    if (tier.minAgeMs <= 0) continue;
    const lower = tiers.slice(index + 1).map((other) => other.priority);
    if (lower.length === 0) continue;
    const result = await db.query(
      `update exceptions set priority = $1,
              due_by = least(coalesce(due_by, $3::timestamptz + $4 * interval '1 millisecond'),
                             $3::timestamptz + $4 * interval '1 millisecond'),
              updated_at = $3
        where state <> 'resolved' and priority = any($2::text[])
          and opened_at <= $3::timestamptz - $5 * interval '1 millisecond'`,
      [tier.priority, lower, now, tier.resolveWithinMs, tier.minAgeMs],
    );
    raised += result.rowCount ?? 0;
  }
  return raised;
}
