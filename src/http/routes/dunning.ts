import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import {
  type DunningRecordRow,
  dunningRecord,
  insertDunningContact,
  listDunningRecords,
  openDunningRecordOf,
  openDunningRecords,
} from "../../db/queries/dunning.js";
import { appendAudit } from "../../db/queries/exceptions.js";
import { auditOf, lockException } from "../../db/queries/exceptionViews.js";
import { withTransaction } from "../../db/transaction.js";
import { calendarDate } from "../../messages/schemas.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { cursorSerial, cursorTime, decodeCursor, page } from "../pagination.js";
import { clientText, decimalInteger, parseInput } from "../query.js";
import { exceptionView } from "./exceptions.js";

/**
 * Dunning (CONTRACT §9): the work list of payments owed follow-up (GET /dunning, oldest first), one record
 * (GET /dunning/{id}), and the `contacted` action on an exception, which records who was contacted, how,
 * and what they promised. The exceptions router handles every other action: this one passes them on.
 */

export const dunningListQuery = z.object({
  state: z.enum(["due", "promised", "open", "closed", "all"]).default("due"),
  gateway: clientText(64).optional(),
  currency: z.string().length(3).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

export const contactedAction = z.object({
  action: z.literal("contacted"),
  channel: z.enum(["email", "phone", "letter", "other"]),
  note: clientText(4000).optional(),
  promised_by: calendarDate.optional(),
});

const positiveId = decimalInteger.refine((id) => id > 0, { message: "must be a positive integer" });

export function dunningView(row: DunningRecordRow, now: Date) {
  const promise = [...row.contacts].reverse().find((contact) => contact.promised_by !== null);
  return {
    id: String(row.id),
    payment_id: row.payment_id,
    reference: row.reference,
    exception_id: row.exception_id === null ? null : String(row.exception_id),
    priority: row.priority,
    reason: row.reason,
    status: row.status,
    direction: row.direction,
    gateway: row.gateway,
    currency: row.currency,
    counterparty: row.counterparty,
    amount_minor: row.amount_minor,
    outstanding_minor: Math.max(0, row.amount_minor - row.settled_amount_minor),
    since: row.since.toISOString(),
    days_overdue: Math.max(0, Math.floor((now.getTime() - row.since.getTime()) / 86_400_000)),
    state: row.closed_at ? "closed" : row.steps.some((step) => step.state === "due") ? "due" : "open",
    opened_at: row.opened_at.toISOString(),
    closed_at: row.closed_at?.toISOString() ?? null,
    closed_status: row.closed_status,
    steps: row.steps.map((step) => ({
      step: step.step,
      due_at: new Date(step.due_at).toISOString(),
      state: step.state,
      changed_at: step.changed_at ? new Date(step.changed_at).toISOString() : null,
    })),
    contacts: row.contacts.map((contact) => ({
      id: String(contact.id),
      at: new Date(contact.at).toISOString(),
      actor: contact.actor,
      channel: contact.channel,
      note: contact.note,
      promised_by: contact.promised_by,
      promise_state: contact.promise_state,
    })),
    promise: promise ? { promised_by: promise.promised_by, state: promise.promise_state } : null,
  };
}

export function dunningRouter(pool: pg.Pool, scheduleMs: number[], clock: () => Date = () => new Date()): Router {
  const router = express.Router();
  router.get("/dunning", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(dunningListQuery, req.query, "invalid_query");
    const after = decodeCursor(query.cursor, z.tuple([cursorTime, cursorSerial]));
    const rows = await listDunningRecords(pool, {
      state: query.state,
      gateway: query.gateway,
      currency: query.currency,
      after: after ? { since: new Date(after[0]), id: after[1] } : undefined,
      limit: query.limit + 1,
    });
    const { items, next } = page(rows, query.limit, (row) => [row.since.toISOString(), row.id]);
    const now = clock();
    res.json({ items: items.map((row) => dunningView(row, now)), next_cursor: next });
  });

  router.get("/dunning/:id", requireRole("viewer", "operator"), async (req, res) => {
    const id = parseInput(positiveId, req.params.id, "invalid_id");
    const row = await dunningRecord(pool, id);
    if (!row) throw new HttpError(404, "not_found", "no dunning record with this id");
    res.json(dunningView(row, clock()));
  });

  // Registered before the exceptions router: `contacted` is handled here, every other action passes on.
  router.post(
    "/exceptions/:id/actions",
    requireRole("operator"),
    express.json({ limit: "64kb" }),
    async (req, res, next) => {
      if ((req.body as { action?: unknown } | undefined)?.action !== "contacted") return next();
      const id = parseInput(positiveId, req.params.id, "invalid_id");
      const body = parseInput(contactedAction, req.body, "invalid_body");
      const now = clock();
      const actor = req.principal!.actor;
      const result = await withTransaction(pool, async (tx) => {
        const row = await lockException(tx, id);
        if (!row) throw new HttpError(404, "not_found", "no exception with this id");
        if (row.state === "resolved") throw new HttpError(409, "invalid_state", "the exception is resolved");
        if (!row.payment_id) throw new HttpError(409, "no_dunning_record", "the exception concerns no payment");
        // The follow-up loop may not have run since the payment became due: open its record now.
        await openDunningRecords(tx, now, scheduleMs, { paymentId: row.payment_id });
        const record = await openDunningRecordOf(tx, row.payment_id);
        if (!record)
          throw new HttpError(
            409,
            "no_dunning_record",
            "the payment owes no follow-up (only delayed collections and failed or held payouts have dunning records)",
          );
        await insertDunningContact(tx, {
          recordId: record.id,
          exceptionId: id,
          at: now,
          actor,
          channel: body.channel,
          note: body.note ?? null,
          promisedBy: body.promised_by ?? null,
        });
        const promise = body.promised_by ? `, promised by ${body.promised_by}` : "";
        const note = `${body.channel}${promise}${body.note ? `: ${body.note}` : ""}`;
        await appendAudit(tx, [{ exceptionId: id, actor, action: "contacted", note }], now);
        const updated = await lockException(tx, id);
        const view = exceptionView(updated!, (await auditOf(tx, [id])).get(id) ?? [], now);
        return { ...view, dunning: dunningView((await dunningRecord(tx, record.id))!, now) };
      });
      res.status(200).json(result);
    },
  );
  return router;
}
