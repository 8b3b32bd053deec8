import express, { type Router } from "express";
import { z } from "zod";
import type { IngestDeps } from "../../consumers/ingest.js";
import { type EntryRow, findEntries, openExceptionsOfEntry } from "../../db/queries/bankEntryViews.js";
import { appendAudit } from "../../db/queries/exceptions.js";
import { insertDecision } from "../../db/queries/manualDecisions.js";
import { withTransaction } from "../../db/transaction.js";
import { batchKey } from "../../reconcile/touched.js";
import { settlingDirection } from "../../reconcile/matching.js";
import { emptyTouched } from "../../reconcile/touched.js";
import type { ManualDecision } from "../../reconcile/types.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { clientText, parseInput } from "../query.js";

/**
 * POST /api/v1/bank-entries/{entry_id}/match and /unmatch (CONTRACT §7): an operator's decision is a fact.
 * It is stored and reconciled in one transaction, exactly as HTTP ingest stores and reconciles facts, so the
 * writer applies it like every other fact and a from-scratch reconciliation gives the same result.
 */

export const entryIdParam = clientText(200).pipe(z.string().min(1));
/** `bank` only when several banks have the entry id. */
const entryBank = clientText(64).optional();
export const manualMatchBody = z.object({
  payment_id: clientText(200).pipe(z.string().min(1)),
  note: clientText(4000).optional(),
  bank: entryBank,
});
export const manualUnmatchBody = z.object({ note: clientText(4000).optional(), bank: entryBank });

/** The one entry this request names: 404 when none, 409 when several banks have the id and no bank was given. */
export async function oneEntry(db: Parameters<typeof findEntries>[0], entryId: string, bank?: string) {
  const rows = await findEntries(db, entryId, bank);
  if (rows.length === 0) throw new HttpError(404, "not_found", "no bank entry with this id");
  if (rows.length > 1) {
    throw new HttpError(
      409,
      "several_banks",
      `several banks have entry ${entryId}: add ?bank= (${rows.map((r) => r.bank).join(", ")})`,
    );
  }
  return rows[0]!;
}

function currentTarget(entry: EntryRow): string | undefined {
  if (entry.match_kind === "payment" && entry.payment_id) return `payment:${entry.payment_id}`;
  if (entry.match_kind === "batch" && entry.batch_gateway && entry.batch_id) {
    return `batch:${batchKey(entry.batch_gateway, entry.batch_id)}`;
  }
  return undefined;
}

/** What the decision did: the entry's match after it. */
function decided(entry: EntryRow, decision: ManualDecision) {
  return {
    entry_id: entry.entry_id,
    bank: entry.bank,
    decision: {
      seq: String(decision.seq),
      action: decision.action,
      target: decision.target,
      actor: decision.actor,
      at: new Date(decision.decidedAt).toISOString(),
      note: decision.note,
    },
    match:
      entry.match_kind === "payment" || entry.match_kind === "batch"
        ? {
            payment_id: entry.payment_id,
            batch_id: entry.batch_id,
            method: entry.match_method,
            explanation: entry.explanation ?? "",
          }
        : null,
    state: entry.match_kind ?? "unmatched",
  };
}

/** What an operator asks for: a payment the entry settles, or the removal of its current match. */
export type EntryDecisionRequest =
  | { action: "match"; entryId: string; bank?: string; paymentId: string; actor: string; note: string | null }
  | { action: "unmatch"; entryId: string; bank?: string; actor: string; note: string | null };

type Tx = Parameters<Parameters<typeof withTransaction>[1]>[0];

/** The decision's target, or an HttpError when it cannot be taken (404 payment, 409 cannot fit or nothing to do). */
async function targetOf(tx: Tx, entry: EntryRow, request: EntryDecisionRequest): Promise<string> {
  if (request.action === "unmatch") {
    const target = currentTarget(entry);
    if (!target) throw new HttpError(409, "invalid_state", "the entry is matched to nothing");
    return target;
  }
  const found = await tx.query<{ direction: "collection" | "payout"; currency: string }>(
    "select direction, currency from payments where id = $1",
    [request.paymentId],
  );
  const payment = found.rows[0];
  if (!payment) throw new HttpError(404, "not_found", "no expected payment with this id");
  if (payment.currency !== entry.currency) {
    throw new HttpError(409, "cannot_fit", `entry is in ${entry.currency}, the payment in ${payment.currency}`);
  }
  if (settlingDirection(payment.direction) !== entry.direction) {
    throw new HttpError(
      409,
      "cannot_fit",
      `a ${payment.direction} is settled by a ${settlingDirection(payment.direction)}, the entry is a ${entry.direction}`,
    );
  }
  if (entry.match_kind === "payment" && entry.payment_id === request.paymentId && entry.match_method === "manual") {
    throw new HttpError(409, "invalid_state", "the entry is matched to this payment by hand already");
  }
  return `payment:${request.paymentId}`;
}

/**
 * The one way an operator's match or unmatch is taken (the API and the status page's form both call it): the
 * decision is stored, the entry's open exceptions audited, and the entry reconciled, all in one transaction.
 */
export async function decideOnEntry(deps: IngestDeps, request: EntryDecisionRequest) {
  const now = deps.now();
  const { actor, note } = request;
  const { view, effects } = await withTransaction(deps.pool, async (tx) => {
    const entry = await oneEntry(tx, request.entryId, request.bank);
    // One decision at a time per entry: its order is its arrival number.
    await tx.query("select 1 from bank_entries where seq = $1 for update", [entry.seq]);
    const target = await targetOf(tx, entry, request);
    const decision = await insertDecision(tx, {
      bank: entry.bank,
      entryId: entry.entry_id,
      action: request.action,
      target,
      actor,
      note,
      decidedAt: now.getTime(),
    });
    const exceptions = await openExceptionsOfEntry(tx, entry.bank, entry.entry_id);
    await appendAudit(
      tx,
      exceptions.map((exceptionId) => ({
        exceptionId,
        actor,
        action: `manual_${request.action}`,
        note: note ?? target,
      })),
      now,
    );
    const touched = emptyTouched();
    touched.recheckEntrySeqs.add(entry.seq);
    const effects = await deps.reconcile(tx, touched, deps.now);
    return { view: decided(await oneEntry(tx, entry.entry_id, entry.bank), decision), effects };
  });
  effects.afterCommit();
  deps.afterCommit?.();
  return view;
}

export function bankEntryDecisionsRouter(deps: IngestDeps): Router {
  const router = express.Router();
  router.post(
    "/bank-entries/:entry_id/match",
    requireRole("operator"),
    express.json({ limit: "64kb" }),
    async (req, res) => {
      const entryId = parseInput(entryIdParam, req.params.entry_id, "invalid_id");
      const body = parseInput(manualMatchBody, req.body ?? {}, "invalid_body");
      const view = await decideOnEntry(deps, {
        action: "match",
        entryId,
        bank: body.bank,
        paymentId: body.payment_id,
        actor: req.principal!.actor,
        note: body.note ?? null,
      });
      res.json(view);
    },
  );

  router.post(
    "/bank-entries/:entry_id/unmatch",
    requireRole("operator"),
    express.json({ limit: "64kb" }),
    async (req, res) => {
      const entryId = parseInput(entryIdParam, req.params.entry_id, "invalid_id");
      const body = parseInput(manualUnmatchBody, req.body ?? {}, "invalid_body");
      const view = await decideOnEntry(deps, {
        action: "unmatch",
        entryId,
        bank: body.bank,
        actor: req.principal!.actor,
        note: body.note ?? null,
      });
      res.json(view);
    },
  );
  return router;
}
