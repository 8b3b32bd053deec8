import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import { brokenPromises, type CreditGroupRow, creditGroups } from "../../db/queries/creditRecords.js";
import { creditRecord, RISK_ORDER } from "../../reports/creditRecord.js";
import { requireRole } from "../auth.js";
import { cursorText, decodeCursor, page } from "../pagination.js";
import { parseInput } from "../query.js";

/**
 * GET /api/v1/counterparties?sort=risk (CONTRACT §9): every counterparty with a payment due in the last 365 days,
 * riskiest first (band D to A, then the most open money, then the id), with its credit record.
 */

export const counterpartyListQuery = z.object({
  sort: z.enum(["risk"]).default("risk"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

/** The credit record of one counterparty (added to GET /counterparties/{id}). */
export async function counterpartyCredit(pool: pg.Pool, counterparty: string, now: Date) {
  const [groups, broken] = [await creditGroups(pool, now, counterparty), await brokenPromises(pool, now, counterparty)];
  return creditRecord(groups, broken.get(counterparty) ?? 0);
}

export function creditRecordsRouter(pool: pg.Pool, clock: () => Date = () => new Date()): Router {
  const router = express.Router();
  router.get("/counterparties", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(counterpartyListQuery, req.query, "invalid_query");
    const after = decodeCursor(
      query.cursor,
      z.tuple([z.number().int().min(0).max(3), z.number().int().min(0), cursorText]),
    );
    const now = clock();
    const [groups, broken] = [await creditGroups(pool, now), await brokenPromises(pool, now)];
    const byCounterparty = new Map<string, CreditGroupRow[]>();
    for (const row of groups)
      byCounterparty.set(row.counterparty, [...(byCounterparty.get(row.counterparty) ?? []), row]);
    const ranked = [...byCounterparty].map(([counterparty, rows]) => {
      const record = creditRecord(rows, broken.get(counterparty) ?? 0);
      // Open money across currencies only orders ties within a band: minor units are not comparable, so it is a count.
      const open = rows
        .filter((row) => row.days === 365 && row.unsettled_minor > 0 && row.status !== "settled")
        .reduce((n, row) => n + row.count, 0);
      return { counterparty, record, key: [RISK_ORDER[record.risk], open] as const };
    });
    ranked.sort((a, b) => a.key[0] - b.key[0] || b.key[1] - a.key[1] || a.counterparty.localeCompare(b.counterparty));
    const start = after
      ? ranked.findIndex(
          (item) =>
            item.key[0] > after[0] ||
            (item.key[0] === after[0] &&
              (item.key[1] < after[1] || (item.key[1] === after[1] && item.counterparty > after[2]))),
        )
      : 0;
    const rest = start < 0 ? [] : ranked.slice(start, start + query.limit + 1);
    const { items, next } = page(rest, query.limit, (item) => [item.key[0], item.key[1], item.counterparty]);
    res.json({
      items: items.map((item) => ({ counterparty: item.counterparty, ...item.record })),
      next_cursor: next,
    });
  });
  return router;
}
