import { conflictsOfException } from "../../db/queries/conflicts.js";
import { EXCEPTION_KINDS } from "../../reconcile/types.js";
import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import type { IngestDeps, ReconcileEffects } from "../../consumers/ingest.js";
import { appendAudit } from "../../db/queries/exceptions.js";
import { decisionsOfPayments, insertPaymentDecision } from "../../db/queries/manualDecisions.js";
import { writeOffInForce } from "../../reconcile/paymentStatus.js";
import { emptyTouched } from "../../reconcile/touched.js";
import { type CandidateView, candidatesOfEntries } from "../../db/queries/matchViews.js";
import type { Db } from "../../db/pool.js";
import {
  type AuditRow,
  auditOf,
  type ExceptionViewRow,
  listExceptions,
  lockException,
  setExceptionState,
} from "../../db/queries/exceptionViews.js";
import { withTransaction } from "../../db/transaction.js";
import { parseDuration } from "../../durations.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { cursorSerial, cursorTime, decodeCursor, page } from "../pagination.js";
import { clientText, decimalInteger, parseInput } from "../query.js";

/** Exceptions: the work queue (GET) and the operator's actions with their audit trail (POST). */

export const exceptionListQuery = z.object({
  state: z.enum(["open", "acknowledged", "resolved", "unresolved", "all"]).default("unresolved"),
  kind: z.enum(EXCEPTION_KINDS).optional(),
  gateway: clientText(64).optional(),
  currency: z.string().length(3).optional(),
  priority: z.enum(["p1", "p2", "p3"]).optional(),
  payment_id: clientText(200).optional(),
  min_amount_minor: decimalInteger.optional(),
  min_age: z
    .string()
    .refine((text) => parseDuration(text) !== undefined, { message: "must be a duration like 3d" })
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

export const exceptionAction = z.object({
  // write_off and reopen: CONTRACT §7 (a write-off is the operator's decision on the payment, a fact).
  action: z.enum(["acknowledge", "resolve", "note", "write_off", "reopen"]),
  note: clientText(4000).optional(),
});

/** Exception ids as this API writes them: positive decimal integers. */
const exceptionId = decimalInteger.refine((id) => id > 0, { message: "must be a positive integer" });

const STATES: Record<z.output<typeof exceptionListQuery>["state"], string[]> = {
  open: ["open"],
  acknowledged: ["acknowledged"],
  resolved: ["resolved"],
  unresolved: ["open", "acknowledged"],
  all: ["open", "acknowledged", "resolved"],
};

export function exceptionView(row: ExceptionViewRow, audit: AuditRow[], now: Date) {
  const end = row.resolved_at ?? now;
  return {
    id: String(row.id),
    kind: row.kind,
    subject: row.subject_key,
    payment_id: row.payment_id,
    entry_id: row.entry_id,
    bank: row.bank,
    event_id: row.event_id,
    batch_id: row.batch_id,
    gateway: row.gateway,
    amount_minor: row.amount_minor,
    currency: row.currency,
    direction: row.direction,
    detail: row.detail,
    state: row.state,
    priority: row.priority,
    due_by: row.due_by?.toISOString() ?? null,
    overdue: row.state !== "resolved" && row.due_by !== null && row.due_by < now,
    opened_at: row.opened_at.toISOString(),
    resolved_at: row.resolved_at?.toISOString() ?? null,
    age_seconds: Math.max(0, Math.floor((end.getTime() - row.opened_at.getTime()) / 1000)),
    audit: audit.map((entry) => ({
      at: entry.at.toISOString(),
      actor: entry.actor,
      action: entry.action,
      note: entry.note,
    })),
  };
}

/** The candidates of ambiguous exceptions (CONTRACT §7), by exception id. */
async function candidatesOf(db: Db, rows: ExceptionViewRow[]): Promise<Map<number, CandidateView[]>> {
  const ambiguous = rows.filter((row) => row.kind === "ambiguous" && row.bank !== null && row.entry_id !== null);
  const found = await candidatesOfEntries(
    db,
    ambiguous.map((row) => ({ bank: row.bank!, entryId: row.entry_id! })),
  );
  return new Map(ambiguous.map((row) => [row.id, found.get(`${row.bank}/${row.entry_id}`) ?? []]));
}

/** An exception as the API shows it: `candidates` on an ambiguous one only. */
function withCandidates<T>(view: T, row: ExceptionViewRow, candidates: Map<number, CandidateView[]>) {
  return row.kind === "ambiguous" ? { ...view, candidates: candidates.get(row.id) ?? [] } : view;
}

/** Reconciles what an operator's decision touched, in its transaction (the daemon's HTTP ingest path). */
export type DecisionReconciler = Pick<IngestDeps, "reconcile" | "now" | "afterCommit">;

export function exceptionsRouter(pool: pg.Pool, decisions?: DecisionReconciler): Router {
  const router = express.Router();
  router.get("/exceptions", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(exceptionListQuery, req.query, "invalid_query");
    const now = new Date();
    const after = decodeCursor(query.cursor, z.tuple([cursorTime, cursorSerial]));
    const rows = await listExceptions(pool, {
      states: STATES[query.state],
      kind: query.kind,
      gateway: query.gateway,
      currency: query.currency,
      priority: query.priority,
      paymentId: query.payment_id,
      minAmountMinor: query.min_amount_minor,
      openedBefore: query.min_age ? new Date(now.getTime() - parseDuration(query.min_age)!) : undefined,
      limit: query.limit + 1,
      after: after ? { openedAt: new Date(after[0]), id: after[1] } : undefined,
    });
    const { items, next } = page(rows, query.limit, (row) => [row.opened_at.toISOString(), row.id]);
    const audit = await auditOf(
      pool,
      items.map((row) => row.id),
    );
    const candidates = await candidatesOf(pool, items);
    res.json({
      items: items.map((row) => withCandidates(exceptionView(row, audit.get(row.id) ?? [], now), row, candidates)),
      next_cursor: next,
    });
  });

  router.get("/exceptions/:id", requireRole("viewer", "operator"), async (req, res) => {
    const id = parseInput(exceptionId, req.params.id, "invalid_id");
    const rows = await pool.query<ExceptionViewRow>("select * from exceptions where id = $1", [id]);
    const row = rows.rows[0];
    if (!row) throw new HttpError(404, "not_found", "no exception with this id");
    const view = withCandidates(
      exceptionView(row, (await auditOf(pool, [id])).get(id) ?? [], new Date()),
      row,
      await candidatesOf(pool, [row]),
    );
    if (row.kind !== "conflict") return void res.json(view);
    const versions = (await conflictsOfException(pool, Number(id))).map((version) => ({
      topic: version.topic,
      first: version.firstBody,
      received: version.receivedBody,
      received_at: version.receivedAt.toISOString(),
    }));
    res.json({ ...view, versions });
  });

  router.post("/exceptions/:id/actions", requireRole("operator"), express.json({ limit: "64kb" }), async (req, res) => {
    const id = parseInput(exceptionId, req.params.id, "invalid_id");
    const body = parseInput(exceptionAction, req.body, "invalid_body");
    if ((body.action === "note" || body.action === "write_off") && !body.note?.trim())
      throw new HttpError(400, "invalid_body", `note: a ${body.action === "note" ? "note" : "write-off"} needs text`);
    const actor = req.principal!.actor;
    const now = decisions?.now() ?? new Date();
    let effects: ReconcileEffects | undefined;
    const result = await withTransaction(pool, async (tx) => {
      const row = await lockException(tx, id);
      if (!row) throw new HttpError(404, "not_found", "no exception with this id");
      // The payment's write-off is a fact the reconciler applies: stored, then reconciled in this transaction.
      const decide = async (paymentId: string, action: "write_off" | "reopen") => {
        if (!decisions) throw new HttpError(503, "unavailable", "decisions are not accepted here");
        await insertPaymentDecision(tx, {
          paymentId,
          action,
          actor,
          note: body.note ?? null,
          decidedAt: now.getTime(),
        });
        const touched = emptyTouched();
        touched.paymentIds.add(paymentId);
        effects = await decisions.reconcile(tx, touched, decisions.now);
      };
      if (body.action === "write_off") {
        if (!row.payment_id)
          throw new HttpError(409, "invalid_state", "only an exception of a payment can be written off");
        const status = await tx.query<{ status: string }>("select status from payments where id = $1", [
          row.payment_id,
        ]);
        if (status.rows[0]?.status === "written_off") throw new HttpError(409, "invalid_state", "written off already");
        if (status.rows[0]?.status === "settled") throw new HttpError(409, "invalid_state", "the payment is settled");
        await appendAudit(tx, [{ exceptionId: id, actor, action: body.action, note: body.note ?? null }], now);
        await decide(row.payment_id, "write_off");
      } else if (body.action === "reopen") {
        if (row.state !== "resolved") throw new HttpError(409, "invalid_state", "only a resolved exception re-opens");
        await appendAudit(tx, [{ exceptionId: id, actor, action: body.action, note: body.note ?? null }], now);
        const written = row.payment_id
          ? writeOffInForce((await decisionsOfPayments(tx, [row.payment_id])).get(row.payment_id))
          : undefined;
        // A written-off payment is reopened by taking the write-off back: its exception opens again if the facts
        // still call for it. Any other resolved exception is opened by hand.
        if (written) await decide(row.payment_id!, "reopen");
        else await setExceptionState(tx, id, "open", now);
      } else if (body.action === "acknowledge") {
        if (row.state !== "open")
          throw new HttpError(409, "invalid_state", `cannot acknowledge an exception that is ${row.state}`);
        await setExceptionState(tx, id, "acknowledged", now);
      } else if (body.action === "resolve") {
        if (row.state === "resolved") throw new HttpError(409, "invalid_state", "the exception is already resolved");
        await setExceptionState(tx, id, "resolved", now);
      }
      if (body.action !== "write_off" && body.action !== "reopen") {
        await appendAudit(tx, [{ exceptionId: id, actor, action: body.action, note: body.note ?? null }], now);
      }
      const updated = await lockException(tx, id);
      return withCandidates(
        exceptionView(updated!, (await auditOf(tx, [id])).get(id) ?? [], now),
        updated!,
        await candidatesOf(tx, [updated!]),
      );
    });
    effects?.afterCommit();
    if (effects) decisions?.afterCommit?.();
    res.status(200).json(result);
  });
  return router;
}
