import type { BankEntry, ExpectedMessage, GatewayEvent, PaymentEvent } from "../../messages/schemas.js";
import { remittanceTokens } from "../../reconcile/references.js";
import type { BankFact, BatchFact, ExpectedVersion, GatewayFact } from "../../reconcile/types.js";
import { referenceKey } from "../../reconcile/references.js";

function receivedMs(receivedAt: Date | number): number {
  return typeof receivedAt === "number" ? receivedAt : receivedAt.getTime();
}

/** Stored fact rows → the pure core's fact types (times as epoch ms, tokens recomputed the same way as on insert). */

export interface VersionRow {
  seq: number;
  payment_id: string;
  version: number | null;
  cancelled: boolean;
  body: ExpectedMessage;
  /** Epoch ms where a whole-table read selects it so (receivedMs): no timestamp text to parse per row. */
  received_at: Date | number;
}

export function toVersion(row: VersionRow): ExpectedVersion & { paymentId: string } {
  return {
    paymentId: row.payment_id,
    seq: row.seq,
    version: row.version,
    cancelled: row.cancelled,
    payment:
      row.cancelled || row.body.cancelled === true ? null : (row.body as Exclude<ExpectedMessage, { cancelled: true }>),
    receivedAt: receivedMs(row.received_at),
  };
}

export interface GatewayEventDbRow {
  seq: number;
  body: GatewayEvent;
  reference_key: string | null;
  received_at: Date | number;
}

export function toGatewayFact(row: GatewayEventDbRow): GatewayFact {
  const event = row.body as PaymentEvent;
  return {
    seq: row.seq,
    gateway: event.gateway,
    eventId: event.event_id,
    type: event.type,
    referenceKey: row.reference_key ?? referenceKey(event.reference),
    amountMinor: event.amount_minor,
    currency: event.currency,
    occurredAt: Date.parse(event.occurred_at),
    failureCode: event.failure_code ?? null,
    failureMessage: event.failure_message ?? null,
    holdReason: event.hold_reason ?? null,
    receivedAt: receivedMs(row.received_at),
  };
}

export function toBatchFact(row: GatewayEventDbRow): BatchFact {
  const event = row.body as Extract<GatewayEvent, { type: "settlement.batch" }>;
  return {
    gateway: event.gateway,
    batchId: event.batch_id,
    batchKey: referenceKey(event.batch_id),
    eventId: event.event_id,
    grossMinor: event.gross_minor,
    feeMinor: event.fee_minor,
    carriedForwardMinor: event.carried_forward_minor ?? 0,
    netMinor: event.amount_minor,
    currency: event.currency,
    expectedArrival: event.expected_arrival,
    occurredAt: Date.parse(event.occurred_at),
    referenceKeys: [...new Set(event.references.map(referenceKey))],
    receivedAt: receivedMs(row.received_at),
  };
}

export interface BankEntryDbRow {
  seq: number;
  body: BankEntry;
  received_at: Date | number;
}

export function toBankFact(row: BankEntryDbRow): BankFact {
  const entry = row.body;
  return {
    seq: row.seq,
    bank: entry.bank,
    entryId: entry.entry_id,
    direction: entry.direction,
    amountMinor: entry.amount_minor,
    currency: entry.currency,
    bookingDate: entry.booking_date,
    valueDate: entry.value_date,
    status: entry.status,
    endToEndId: entry.end_to_end_id ?? null,
    tokens: remittanceTokens(entry.end_to_end_id, entry.remittance_info),
    counterpartyName: entry.counterparty_name ?? null,
    returnReason: entry.return_reason ?? null,
    receivedAt: receivedMs(row.received_at),
    instructedAmountMinor: entry.instructed_amount_minor ?? null,
    instructedCurrency: entry.instructed_currency ?? null,
    fxRate: entry.fx_rate ?? null,
  };
}

const ASCII = /^[\x00-\x7f]*$/;

/** jsonb's key order: shorter keys (in UTF-8 bytes) first, then bytewise. */
function jsonbKeyOrder(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length - y.length || Buffer.compare(x, y);
}

/**
 * A JSON value as PostgreSQL gives it back from a jsonb column: object keys in jsonb's order, undefined
 * members dropped. Facts built from what a transaction just inserted must stringify exactly like the same
 * facts loaded later (the working set keys versions, and hashes identities, by their JSON).
 */
export function asStoredJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : asStoredJson(item))) as T;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record).sort(jsonbKeyOrder)) {
    if (record[key] !== undefined) out[key] = asStoredJson(record[key]);
  }
  return out as T;
}
