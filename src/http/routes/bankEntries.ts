import express, { type Router } from "express";
import type pg from "pg";
import { z } from "zod";
import {
  type BatchRow,
  type EntryRow,
  entriesPayingBatch,
  entryState,
  exceptionsOfEntry,
  findBatches,
  listEntries,
  paymentsOfBatch,
} from "../../db/queries/bankEntryViews.js";
import { decisionsOfEntries } from "../../db/queries/manualDecisions.js";
import { candidatesOfEntries } from "../../db/queries/matchViews.js";
import { ruleOf } from "../../reconcile/explain.js";
import { asciiUpperCase } from "../../reconcile/references.js";
import type { MatchMethod } from "../../reconcile/types.js";
import { requireRole } from "../auth.js";
import { HttpError } from "../errors.js";
import { cursorSerial, decodeCursor, page } from "../pagination.js";
import { clientText, decimalInteger, parseInput } from "../query.js";
import { entryIdParam, oneEntry } from "./bankEntryDecisions.js";

/** Bank entries and settlement batches as first-class resources (CONTRACT §7). */

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: "must be a date YYYY-MM-DD" });

export const ENTRY_STATES = ["matched", "tentative", "unmatched", "ambiguous", "duplicate", "conflict"] as const;

export const entryListQuery = z.object({
  state: z.enum(ENTRY_STATES).optional(),
  bank: clientText(64).optional(),
  account: clientText(200).optional(),
  currency: z.string().length(3).optional(),
  direction: z.enum(["credit", "debit"]).optional(),
  amount_minor: decimalInteger.optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  q: clientText(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

export const entryQuery = z.object({ bank: clientText(64).optional() });
export const batchQuery = z.object({ gateway: clientText(64).optional() });

/** The words of a search, as the tokens matching keeps of end-to-end ids and remittance text (references.ts). */
export function searchTokens(q: string | undefined): string[] {
  if (!q) return [];
  const words = q
    .split(/\s+/)
    .map((word) => asciiUpperCase(word.replace(/^[\s,;:()[\]{}<>"'|.\-_]+|[\s,;:()[\]{}<>"'|.\-_]+$/g, "")))
    .filter((word) => word.length > 0);
  return [...new Set(words)];
}

function matchOf(row: EntryRow) {
  if (row.match_kind !== "payment" && row.match_kind !== "batch") return null;
  return {
    payment_id: row.payment_id,
    batch_id: row.batch_id,
    gateway: row.batch_gateway,
    rule: ruleOf(row.match_kind, row.match_method as MatchMethod),
    tentative: row.status === "pending",
    explanation: row.explanation ?? "",
  };
}

export function entryView(row: EntryRow, state: string) {
  return {
    entry_id: row.entry_id,
    bank: row.bank,
    account: row.account,
    direction: row.direction,
    amount_minor: Number(row.amount_minor),
    currency: row.currency,
    booking_date: row.booking_date,
    value_date: row.value_date,
    status: row.status,
    end_to_end_id: row.end_to_end_id,
    remittance_info: row.remittance_info,
    counterparty_name: row.counterparty_name,
    return_reason: row.return_reason,
    received_at: row.received_at.toISOString(),
    state,
    match: matchOf(row),
  };
}

function batchView(row: BatchRow) {
  return {
    batch_id: row.batch_id,
    gateway: row.gateway,
    event_id: row.event_id,
    currency: row.currency,
    gross_minor: Number(row.gross_minor),
    fee_minor: Number(row.fee_minor),
    net_minor: Number(row.net_minor),
    // Known once gateways report them (CONTRACT §8); null until then.
    carried_forward_minor: null,
    expected_fee_minor: null,
    expected_arrival: row.expected_arrival,
    occurred_at: row.occurred_at.toISOString(),
    state: row.state,
    settled_on: row.settled_on,
    difference_minor: row.difference_minor === null ? null : Number(row.difference_minor),
  };
}

/** One entry as GET /api/v1/bank-entries/{entry_id} (and the status page's entry page) shows it. */
export async function entryDetail(pool: pg.Pool, row: EntryRow) {
  const key = { bank: row.bank, entryId: row.entry_id };
  const [state, candidates, exceptions, decisions] = [
    await entryState(pool, row.seq),
    await candidatesOfEntries(pool, [key]),
    await exceptionsOfEntry(pool, row.bank, row.entry_id),
    await decisionsOfEntries(pool, [key]),
  ];
  const view = entryView(row, state);
  return {
    ...view,
    matches: view.match ? [{ entry_id: row.entry_id, bank: row.bank, ...view.match }] : [],
    candidates: candidates.get(`${row.bank}/${row.entry_id}`) ?? [],
    exceptions: exceptions.map((exception) => ({
      id: String(exception.id),
      kind: exception.kind,
      state: exception.state,
      detail: exception.detail,
      opened_at: exception.opened_at.toISOString(),
    })),
    audit: (decisions.get(`${row.bank}/${row.entry_id}`) ?? []).map((decision) => ({
      at: new Date(decision.decidedAt).toISOString(),
      actor: decision.actor,
      action: decision.action,
      target: decision.target,
      note: decision.note,
    })),
  };
}

export function bankEntriesRouter(pool: pg.Pool): Router {
  const router = express.Router();
  router.get("/bank-entries", requireRole("viewer", "operator"), async (req, res) => {
    const query = parseInput(entryListQuery, req.query, "invalid_query");
    const after = decodeCursor(query.cursor, z.tuple([isoDate, cursorSerial]));
    const rows = await listEntries(pool, {
      state: query.state,
      bank: query.bank,
      account: query.account,
      currency: query.currency,
      direction: query.direction,
      amountMinor: query.amount_minor,
      from: query.from,
      to: query.to,
      tokens: searchTokens(query.q),
      limit: query.limit + 1,
      after: after ? { valueDate: after[0], seq: after[1] } : undefined,
    });
    const { items, next } = page(rows, query.limit, (row) => [row.value_date, Number(row.seq)]);
    res.json({ items: items.map((row) => entryView(row, row.state)), next_cursor: next });
  });

  router.get("/bank-entries/:entry_id", requireRole("viewer", "operator"), async (req, res) => {
    const entryId = parseInput(entryIdParam, req.params.entry_id, "invalid_id");
    const { bank } = parseInput(entryQuery, req.query, "invalid_query");
    res.json(await entryDetail(pool, await oneEntry(pool, entryId, bank)));
  });

  router.get("/batches/:batch_id", requireRole("viewer", "operator"), async (req, res) => {
    const batchId = parseInput(clientText(200).pipe(z.string().min(1)), req.params.batch_id, "invalid_id");
    const { gateway } = parseInput(batchQuery, req.query, "invalid_query");
    const rows = await findBatches(pool, batchId, gateway);
    if (rows.length === 0) throw new HttpError(404, "not_found", "no settlement batch with this id");
    if (rows.length > 1) {
      throw new HttpError(409, "several_gateways", `several gateways have batch ${batchId}: add ?gateway=`);
    }
    const batch = rows[0]!;
    const payments = await paymentsOfBatch(pool, batch.gateway, batch.batch_id);
    const entries = await entriesPayingBatch(pool, batch.gateway, batch.batch_id);
    res.json({
      ...batchView(batch),
      payments: payments.map((payment) => ({
        reference: payment.reference_key,
        payment_id: payment.payment_id,
        status: payment.status,
        amount_minor: payment.amount_minor === null ? null : Number(payment.amount_minor),
      })),
      bank_entries: await Promise.all(
        entries.map(async (entry) => entryView(entry, await entryState(pool, entry.seq))),
      ),
    });
  });
  return router;
}
