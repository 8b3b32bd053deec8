import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import { matchesOfPayments } from "../../db/queries/matchViews.js";
import { getPayment, listPayments, type PaymentRow, paymentTimeline } from "../../db/queries/paymentViews.js";
import { PAYMENT_STATUSES } from "../../reconcile/types.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { parseBound } from "../../reports/period.js";
import { cursorText, cursorTime, decodeCursor, page } from "../pagination.js";
import { clientText, parseInput } from "../query.js";

/** GET /api/v1/payments/{id} and GET /api/v1/payments (CONTRACT §3). */

const idParam = clientText(200).pipe(z.string().min(1));
/** The reports' parser: a date (midnight UTC) or a strict RFC 3339 time; Date.parse accepted "foo 12". */
const instant = z.string().transform((text, ctx) => {
  const at = parseBound(text);
  if (at === undefined) {
    ctx.addIssue({ code: "custom", message: "must be a date YYYY-MM-DD or an RFC 3339 time" });
    return z.NEVER;
  }
  return at;
});

export const paymentListQuery = z.object({
  status: z.enum(PAYMENT_STATUSES as [string, ...string[]]).optional(),
  gateway: clientText(64).optional(),
  direction: z.enum(["collection", "payout"]).optional(),
  counterparty: clientText(200).optional(),
  from: instant.optional(),
  to: instant.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

export function paymentSummary(row: PaymentRow) {
  return {
    id: row.id,
    reference: row.reference,
    status: row.status,
    direction: row.direction,
    gateway: row.gateway,
    currency: row.currency,
    amount_minor: row.amount_minor,
    settled_amount_minor: row.settled_amount_minor,
    at_risk_minor: row.at_risk_minor,
    failure_category: row.failure_category,
    failure_code: row.failure_code,
    failure_message: row.failure_message,
    retry_advice: row.retry_advice,
    hold_reason: row.hold_reason,
    settled_late: row.settled_late,
    settled_on: row.settled_on,
    counterparty: row.counterparty,
    created_at: row.created_at.toISOString(),
    due_at: row.due_at.toISOString(),
    installments: row.installments,
    accepted_at: row.accepted_at?.toISOString() ?? null,
    overdue_since: row.overdue_since?.toISOString() ?? null,
    status_reason: row.status_reason,
    status_since: row.status_since.toISOString(),
    next_deadline: row.next_deadline?.toISOString() ?? null,
    flags: row.flags,
    updated_at: row.updated_at.toISOString(),
    // CONTRACT §8 "FX": settled (in part) by lines in another currency; null when not.
    fx:
      row.fx_line_currency == null
        ? null
        : {
            line_currency: row.fx_line_currency,
            line_amount_minor: Number(row.fx_line_amount_minor),
            difference_minor: Number(row.fx_difference_minor),
          },
  };
}

export function paymentsRouter(pool: pg.Pool): Router {
  const router = express.Router();
  router.get("/payments/:id", requireRole("viewer", "operator"), async (req, res) => {
    const id = parseInput(idParam, req.params.id, "invalid_id");
    const row = await getPayment(pool, id);
    if (!row) throw new HttpError(404, "not_found", "no expected payment with this id");
    const timeline = await paymentTimeline(pool, row);
    const matches = (await matchesOfPayments(pool, [id])).get(id) ?? [];
    const exceptions = await pool.query<{ id: number; kind: string; state: string }>(
      "select id, kind, state from exceptions where payment_id = $1 order by id",
      [id],
    );
    res.json({
      ...paymentSummary(row),
      matches,
      exceptions: exceptions.rows.map((exception) => ({ ...exception, id: String(exception.id) })),
      timeline: timeline.map((entry) => ({
        at: entry.at.toISOString(),
        source: entry.source,
        type: entry.type,
        ...entry.detail,
      })),
    });
  });
  router.get("/payments", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(paymentListQuery, req.query, "invalid_query");
    const after = decodeCursor(query.cursor, z.tuple([cursorTime, cursorText]));
    const rows = await listPayments(pool, {
      status: query.status,
      gateway: query.gateway,
      direction: query.direction,
      counterparty: query.counterparty,
      from: query.from,
      to: query.to,
      limit: query.limit + 1,
      after: after ? { createdAt: new Date(after[0]), id: after[1] } : undefined,
    });
    const { items, next } = page(rows, query.limit, (row) => [row.created_at.toISOString(), row.id]);
    const matches = await matchesOfPayments(
      pool,
      items.map((row) => row.id),
    );
    res.json({
      items: items.map((row) => ({ ...paymentSummary(row), matches: matches.get(row.id) ?? [] })),
      next_cursor: next,
    });
  });
  return router;
}
