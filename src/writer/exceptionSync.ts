import {
  appendAudit,
  type AuditEntry,
  type ExceptionRow,
  type ExceptionUpdate,
  exceptionsByKey,
  insertExceptions,
  type OpenRequest,
  SYSTEM_ACTOR,
  unresolvedByOwner,
  updateExceptions,
} from "../db/queries/exceptions.js";
import type { Db } from "../db/pool.js";
import { type DesiredException, subjectKey } from "../reconcile/exceptions.js";
import { DEFAULT_PRIORITY_TIERS, type PriorityScale, type PriorityTier, prioritize } from "../reconcile/priority.js";

/**
 * Brings the stored exceptions of some owners in line with what the facts
 * call for: open what is new, re-open what regressed, auto-resolve what
 * recovered — each change in the audit trail, nothing deleted.
 */
export interface ExceptionChange {
  id: number;
  action: "opened" | "reopened" | "auto_resolved";
  desired: DesiredException | undefined;
  row: ExceptionRow | undefined;
}

/**
 * `findingOf`: what a change's audit row keeps for its finding (findings.ts), when findings are published;
 * undefined for a change that is not one.
 */
export async function syncExceptions(
  db: Db,
  desiredByOwner: Map<string, DesiredException[]>,
  now: Date,
  tiers: PriorityTier[] = DEFAULT_PRIORITY_TIERS,
  scale?: PriorityScale,
  findingOf?: (change: ExceptionChange) => Record<string, unknown> | undefined,
): Promise<ExceptionChange[]> {
  const owners = [...desiredByOwner.keys()];
  if (owners.length === 0) return [];
  const desired = owners.flatMap((owner) =>
    (desiredByOwner.get(owner) ?? []).map((exception) => ({
      owner,
      exception,
      key: `${exception.kind}|${subjectKey(exception.subject)}`,
    })),
  );
  const [current, existing] = [
    await unresolvedByOwner(db, owners),
    await exceptionsByKey(
      db,
      desired.map((item) => ({ kind: item.exception.kind, subjectKey: subjectKey(item.exception.subject) })),
    ),
  ];
  const existingByKey = new Map(existing.map((row) => [`${row.kind}|${row.subjectKey}`, row]));
  const wanted = new Set(desired.map((item) => item.key));
  const inserts: OpenRequest[] = [];
  const updates: ExceptionUpdate[] = [];
  const changes: ExceptionChange[] = [];
  const seen = new Set<string>();
  for (const item of desired) {
    if (seen.has(item.key)) continue;
    seen.add(item.key);
    const row = existingByKey.get(item.key);
    const tier = prioritize(item.exception.amountMinor, item.exception.currency, 0, tiers, scale);
    if (!row) {
      inserts.push({
        desired: item.exception,
        owner: item.owner,
        priority: tier.priority,
        dueBy: new Date(now.getTime() + tier.resolveWithinMs),
      });
      continue;
    }
    // An operator's resolution stands until the facts say something new.
    if (row.state === "resolved" && row.resolution === "manual" && row.detail === item.exception.detail) continue;
    if (row.state === "resolved") {
      updates.push({
        id: row.id,
        state: "open",
        owner: item.owner,
        amountMinor: item.exception.amountMinor,
        detail: item.exception.detail,
        priority: tier.priority,
        dueBy: new Date(now.getTime() + tier.resolveWithinMs),
        resolved: false,
      });
      changes.push({ id: row.id, action: "reopened", desired: item.exception, row });
    } else if (
      row.amountMinor !== item.exception.amountMinor ||
      row.detail !== item.exception.detail ||
      row.owner !== item.owner
    ) {
      updates.push({
        id: row.id,
        state: row.state,
        owner: item.owner,
        amountMinor: item.exception.amountMinor,
        detail: item.exception.detail,
        priority: tier.priority,
        dueBy: null,
        resolved: false,
      });
    }
  }
  for (const row of current) {
    if (wanted.has(`${row.kind}|${row.subjectKey}`)) continue;
    updates.push({
      id: row.id,
      state: "resolved",
      owner: row.owner,
      amountMinor: row.amountMinor,
      detail: row.detail,
      priority: null,
      dueBy: null,
      resolved: true,
    });
    changes.push({ id: row.id, action: "auto_resolved", desired: undefined, row });
  }
  const ids = await insertExceptions(db, inserts, now);
  ids.forEach((id, index) => {
    changes.push({ id, action: "opened", desired: inserts[index]!.desired, row: undefined });
  });
  await updateExceptions(db, updates, now);
  // Every change is an audit row; a finding's travels with it.
  const audit = changes.map(
    (change): AuditEntry => ({
      exceptionId: change.id,
      actor: SYSTEM_ACTOR,
      action: change.action,
      note: change.action === "auto_resolved" ? "the underlying facts recovered" : (change.desired?.detail ?? null),
      finding: findingOf?.(change),
    }),
  );
  await appendAudit(db, audit, now);
  return changes;
}
