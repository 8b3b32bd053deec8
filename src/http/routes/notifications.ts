import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import {
  type DeliveryLogRow,
  deliveriesOf,
  listNotifications,
  NOTIFICATION_KINDS,
  type NotificationListRow,
} from "../../db/queries/notifications.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { cursorSerial, decodeCursor, page } from "../pagination.js";
import { clientText, decimalInteger, parseInput } from "../query.js";

/**
 * The notifications payrecon sent or is sending (CONTRACT §9), newest first, each with its delivery log per
 * webhook: every attempt, its HTTP status or error, and when the next one is due.
 */

export const notificationListQuery = z.object({
  state: z.enum(["pending", "failed", "delivered", "stored"]).optional(),
  kind: z.enum(NOTIFICATION_KINDS as [string, ...string[]]).optional(),
  payment_id: clientText(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

/** A webhook URL can carry its own secret (a path token, a query key): only its origin is shown. */
function destinationOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "[unparseable url]";
  }
}

function notificationView(row: NotificationListRow, deliveries: DeliveryLogRow[]) {
  return {
    id: String(row.id),
    kind: row.kind,
    created_at: row.created_at.toISOString(),
    payment_id: row.payment_id,
    state: row.state,
    payload: row.payload,
    deliveries: deliveries.map((delivery) => ({
      destination: destinationOrigin(delivery.destination),
      state: delivery.state,
      attempts: delivery.attempts,
      next_attempt_at: delivery.next_attempt_at?.toISOString() ?? null,
      give_up_at: delivery.give_up_at.toISOString(),
      gave_up: delivery.state === "failed" && delivery.next_attempt_at === null,
      delivered_at: delivery.delivered_at?.toISOString() ?? null,
      last_error: delivery.last_error,
      log: delivery.log.map((attempt) => ({ ...attempt, at: new Date(attempt.at).toISOString() })),
    })),
  };
}

export function notificationsRouter(pool: pg.Pool): Router {
  const router = express.Router();
  router.get("/notifications", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(notificationListQuery, req.query, "invalid_query");
    const after = decodeCursor(query.cursor, z.tuple([cursorSerial]));
    const rows = await listNotifications(pool, {
      state: query.state as NotificationListRow["state"] | undefined,
      kind: query.kind,
      paymentId: query.payment_id,
      beforeId: after?.[0],
      limit: query.limit + 1,
    });
    const { items, next } = page(rows, query.limit, (row) => [row.id]);
    const deliveries = await deliveriesOf(
      pool,
      items.map((row) => row.id),
    );
    res.json({
      items: items.map((row) => notificationView(row, deliveries.get(row.id) ?? [])),
      next_cursor: next,
    });
  });

  router.get("/notifications/:id", requireRole("viewer", "operator"), async (req, res) => {
    const id = parseInput(decimalInteger, req.params.id, "invalid_id");
    const [row] = await listNotifications(pool, { id, limit: 1 });
    if (!row) throw new HttpError(404, "not_found", "no notification with this id");
    res.json(notificationView(row, (await deliveriesOf(pool, [id])).get(id) ?? []));
  });
  return router;
}
