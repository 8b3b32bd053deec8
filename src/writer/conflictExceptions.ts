import { createHash } from "node:crypto";
import { conflictDetail, type InputConflict } from "../consumers/conflicts.js";
import { canonicalJson } from "../consumers/decode.js";
import type { Db } from "../db/pool.js";
import { insertInputConflicts } from "../db/queries/conflicts.js";
import { exceptionsByKey } from "../db/queries/exceptions.js";
import { type DesiredException, subjectKey } from "../reconcile/exceptions.js";
import type { PriorityTier } from "../reconcile/priority.js";
import { syncExceptions } from "./exceptionSync.js";

/**
 * Raises one `conflict` exception per subject (re-opened when a new conflicting version arrives after it was
 * resolved) and keeps the received version beside it. Its owner is the conflict itself, so the reconciler's
 * own exception sync never resolves it: only an operator does.
 */
export async function recordConflicts(
  db: Db,
  conflicts: InputConflict<unknown>[],
  now: Date,
  tiers?: PriorityTier[],
): Promise<void> {
  if (conflicts.length === 0) return;
  const desired = new Map<string, DesiredException[]>();
  for (const conflict of conflicts) {
    const first = (conflict.first ?? {}) as Record<string, unknown>;
    const exception: DesiredException = {
      kind: "conflict",
      subject: conflict.subject,
      amountMinor: typeof first.amount_minor === "number" ? first.amount_minor : 0,
      currency: typeof first.currency === "string" ? first.currency : "",
      direction: directionOf(first.direction),
      gateway: typeof first.gateway === "string" ? first.gateway : null,
      detail: conflictDetail(conflict),
    };
    // One exception per subject: a later conflict in the batch says the newest version received.
    desired.set(`conflict:${subjectKey(conflict.subject)}`, [exception]);
  }
  await syncExceptions(db, desired, now, tiers);
  const rows = await exceptionsByKey(
    db,
    conflicts.map((conflict) => ({ kind: "conflict", subjectKey: subjectKey(conflict.subject) })),
  );
  const ids = new Map(rows.map((row) => [row.subjectKey, row.id]));
  await insertInputConflicts(
    db,
    conflicts.map((conflict) => ({
      topic: conflict.topic,
      subjectKey: subjectKey(conflict.subject),
      exceptionId: ids.get(subjectKey(conflict.subject)) ?? null,
      firstBody: conflict.first,
      receivedBody: conflict.received,
      receivedHash: createHash("sha256").update(canonicalJson(conflict.received)).digest(),
      source: conflict.source,
    })),
  );
}

function directionOf(value: unknown): DesiredException["direction"] {
  return value === "collection" || value === "payout" || value === "credit" || value === "debit" ? value : null;
}
