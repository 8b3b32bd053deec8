import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import {
  counterpartyLastFailure,
  counterpartyOpenExceptions,
  counterpartyStatusTotals,
} from "../../db/queries/counterparties.js";
import { counterpartyHistory } from "../../reports/counterparty.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { clientText, parseInput } from "../query.js";
import { counterpartyCredit } from "./creditRecords.js";

/**
 * GET /api/v1/counterparties/{id} (CONTRACT §3): the counterparty's payment
 * history — counts and amounts by status per currency, late and failure
 * rates, the last failure, first and last payment, open exceptions. 404 when
 * no expected payment names it.
 */

const idParam = clientText(200).pipe(z.string().min(1));

export function counterpartiesRouter(pool: pg.Pool, clock: () => Date = () => new Date()): Router {
  const router = express.Router();
  router.get("/counterparties/:id", requireRole("viewer", "operator"), async (req, res) => {
    const id = parseInput(idParam, req.params.id, "invalid_id");
    const rows = await counterpartyStatusTotals(pool, id);
    if (rows.length === 0) throw new HttpError(404, "not_found", "no expected payment names this counterparty");
    const [lastFailure, openExceptions] = [
      await counterpartyLastFailure(pool, id),
      await counterpartyOpenExceptions(pool, id),
    ];
    // CONTRACT §9: the credit record (30/90/365-day windows and the risk band) beside the history.
    res.json({
      ...counterpartyHistory(id, rows, lastFailure, openExceptions),
      ...(await counterpartyCredit(pool, id, clock())),
    });
  });
  return router;
}
