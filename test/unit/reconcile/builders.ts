import type { ExpectedPayment } from "../../../src/messages/schemas.js";
import { exceptionKey } from "../../../src/reconcile/exceptions.js";
import type { PaymentOutcome } from "../../../src/reconcile/paymentStatus.js";
import { referenceKey, remittanceTokens } from "../../../src/reconcile/references.js";
import type {
  BankFact,
  BatchFact,
  ExceptionKind,
  ExpectedVersion,
  GatewayFact,
  Policy,
} from "../../../src/reconcile/types.js";
import { reconcileWorld, type WorldFacts, type WorldResult } from "../../../src/reconcile/world.js";

/**
 * Builders for the pure reconciliation core, so a test reads like the domain:
 *
 *   scenario()
 *     .expect(collection({ reference: "ORD-1001", amount: 125000, due: "2026-11-24T17:00Z" }))
 *     .credit({ amount: 125000, on: "2026-11-22", remittance: "STRIPE ORD-1001" })
 *     .reconcile("2026-11-25T00:00Z")
 *
 * Facts are built the way the ingest path builds them (tokens through
 * `remittanceTokens`, keys through `referenceKey`); times are epoch ms.
 */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** An instant: epoch ms or an ISO time ("2026-11-24T17:00Z", "2026-11-24" = midnight UTC). */
export type When = number | string;

export function at(when: When): number {
  if (typeof when === "number") return when;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(when) ? `${when}T00:00:00Z` : when);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${when}`);
  return ms;
}

export function isoTime(when: When): string {
  return new Date(at(when)).toISOString().replace(".000Z", "Z");
}

export function isoDate(when: When): string {
  return new Date(at(when)).toISOString().slice(0, 10);
}

/** The default policy of CONTRACT §6: HOLD_THRESHOLD 72h, MATCH_WINDOW 3d, UNMATCHED_GRACE 24h, tolerance 0. */
export function defaultPolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    holdThresholdMs: 72 * HOUR,
    matchWindowMs: 3 * DAY,
    unmatchedGraceMs: 24 * HOUR,
    amountToleranceMinor: 0,
    amountToleranceByGateway: {},
    ...overrides,
  };
}

// ---------------------------------------------------------------- expected payments

export type Direction = "collection" | "payout";

export interface PaymentSpec {
  reference: string;
  amount: number;
  due: When;
  id?: string;
  currency?: string;
  gateway?: string;
  created?: When;
  /** [amount, due] pairs; they must sum to `amount`. */
  installments?: Array<[amount: number, due: When]>;
  /** Known counterparty name (kept in metadata, where the matcher looks for it). */
  counterpartyName?: string;
  counterparty?: string;
}

export function expectedPayment(direction: Direction, spec: PaymentSpec): ExpectedPayment {
  const dues = [at(spec.due), ...(spec.installments ?? []).map(([, due]) => at(due))];
  const created = spec.created !== undefined ? at(spec.created) : Math.min(...dues) - 4 * DAY;
  return {
    id: spec.id ?? `exp_${spec.reference}`,
    direction,
    amount_minor: spec.amount,
    currency: spec.currency ?? "EUR",
    gateway: spec.gateway ?? "stripe",
    reference: spec.reference,
    counterparty: spec.counterparty ?? null,
    created_at: isoTime(created),
    due_at: isoTime(spec.due),
    ...(spec.installments
      ? { installments: spec.installments.map(([amount, due]) => ({ amount_minor: amount, due_at: isoTime(due) })) }
      : {}),
    ...(spec.counterpartyName ? { metadata: { counterparty_name: spec.counterpartyName } } : {}),
  };
}

export const collection = (spec: PaymentSpec) => expectedPayment("collection", spec);
export const payout = (spec: PaymentSpec) => expectedPayment("payout", spec);

/** The bank direction that settles a payment (money in for collections, out for payouts). */
export function settling(direction: Direction): "credit" | "debit" {
  return direction === "collection" ? "credit" : "debit";
}

export type VersionFact = ExpectedVersion & { paymentId: string };

export function expectedVersion(
  payment: ExpectedPayment,
  opts: { seq: number; version?: number | null; receivedAt?: When },
): VersionFact {
  const version = opts.version ?? null;
  return {
    paymentId: payment.id,
    seq: opts.seq,
    version,
    cancelled: false,
    payment: version === null ? payment : { ...payment, version },
    receivedAt: at(opts.receivedAt ?? payment.created_at),
  };
}

export function cancellation(
  paymentId: string,
  opts: { seq: number; version?: number | null; receivedAt: When },
): VersionFact {
  return {
    paymentId,
    seq: opts.seq,
    version: opts.version ?? null,
    cancelled: true,
    payment: null,
    receivedAt: at(opts.receivedAt),
  };
}

// ---------------------------------------------------------------- gateway

export type EventType = GatewayFact["type"];

export interface EventSpec {
  seq: number;
  type: EventType;
  reference: string;
  at: When;
  amount?: number;
  currency?: string;
  gateway?: string;
  eventId?: string;
  failureCode?: string | null;
  failureMessage?: string | null;
  holdReason?: string | null;
  receivedAt?: When;
}

export function gatewayFact(spec: EventSpec): GatewayFact {
  return {
    seq: spec.seq,
    gateway: spec.gateway ?? "stripe",
    eventId: spec.eventId ?? `evt_${spec.seq}`,
    type: spec.type,
    referenceKey: referenceKey(spec.reference),
    amountMinor: spec.amount ?? 0,
    currency: spec.currency ?? "EUR",
    occurredAt: at(spec.at),
    failureCode: spec.failureCode ?? null,
    failureMessage: spec.failureMessage ?? null,
    holdReason: spec.holdReason ?? null,
    receivedAt: at(spec.receivedAt ?? spec.at),
  };
}

export interface BatchSpec {
  batchId: string;
  references: string[];
  gross: number;
  fee: number;
  /** Signed balance carried in from earlier batches (default 0). */
  carried?: number;
  at: When;
  /** Expected arrival date; defaults to two days after `at`. */
  arrival?: When;
  currency?: string;
  gateway?: string;
  eventId?: string;
  receivedAt?: When;
}

/** A `settlement.batch`: net = gross − fee + carried forward, as the schema enforces. */
export function batchFact(spec: BatchSpec): BatchFact {
  return {
    gateway: spec.gateway ?? "stripe",
    batchId: spec.batchId,
    batchKey: referenceKey(spec.batchId),
    eventId: spec.eventId ?? `evt_${spec.batchId}`,
    grossMinor: spec.gross,
    feeMinor: spec.fee,
    carriedForwardMinor: spec.carried ?? 0,
    netMinor: spec.gross - spec.fee + (spec.carried ?? 0),
    currency: spec.currency ?? "EUR",
    expectedArrival: isoDate(spec.arrival ?? at(spec.at) + 2 * DAY),
    occurredAt: at(spec.at),
    referenceKeys: [...new Set(spec.references.map(referenceKey))],
    receivedAt: at(spec.receivedAt ?? spec.at),
  };
}

// ---------------------------------------------------------------- bank

export interface EntrySpec {
  seq: number;
  amount: number;
  /** Value date (and booking date unless given). */
  on: When;
  direction: "credit" | "debit";
  currency?: string;
  booked?: When;
  status?: BankFact["status"];
  e2e?: string | null;
  remittance?: string | null;
  counterpartyName?: string | null;
  returnReason?: string | null;
  entryId?: string;
  bank?: string;
  /** When the statement line arrived; defaults to 08:00Z on the value date. */
  receivedAt?: When;
  /** CONTRACT §8 "FX": absent unless given. */
  instructedAmount?: number;
  instructedCurrency?: string;
  fxRate?: number;
}

export function bankFact(spec: EntrySpec): BankFact {
  const e2e = spec.e2e ?? null;
  const remittance = spec.remittance ?? null;
  return {
    seq: spec.seq,
    bank: spec.bank ?? "bank_a",
    entryId: spec.entryId ?? `ENTRY-${spec.seq}`,
    direction: spec.direction,
    amountMinor: spec.amount,
    currency: spec.currency ?? "EUR",
    bookingDate: isoDate(spec.booked ?? spec.on),
    valueDate: isoDate(spec.on),
    status: spec.status ?? "booked",
    endToEndId: e2e,
    tokens: remittanceTokens(e2e, remittance),
    counterpartyName: spec.counterpartyName ?? null,
    returnReason: spec.returnReason ?? null,
    receivedAt: at(spec.receivedAt ?? at(spec.on) + 8 * HOUR),
    ...(spec.instructedAmount === undefined
      ? {}
      : { instructedAmountMinor: spec.instructedAmount, instructedCurrency: spec.instructedCurrency ?? "USD" }),
    ...(spec.fxRate === undefined ? {} : { fxRate: spec.fxRate }),
  };
}

// ---------------------------------------------------------------- scenario

type Unseq<T> = Omit<T, "seq">;

/** A set of facts with arrival numbers handed out in the order they are added. */
export class Scenario {
  private nextSeq = 1;
  readonly facts: WorldFacts = {
    versions: [],
    events: [],
    batches: [],
    entries: [],
    decisions: [],
    paymentDecisions: [],
  };

  private seq(): number {
    return this.nextSeq++;
  }

  expect(payment: ExpectedPayment, opts: { version?: number | null; receivedAt?: When } = {}): this {
    this.facts.versions.push(expectedVersion(payment, { ...opts, seq: this.seq() }));
    return this;
  }

  cancel(paymentId: string, opts: { version?: number | null; receivedAt: When }): this {
    this.facts.versions.push(cancellation(paymentId, { ...opts, seq: this.seq() }));
    return this;
  }

  event(type: EventType, reference: string, when: When, opts: Partial<Unseq<EventSpec>> = {}): this {
    this.facts.events.push(gatewayFact({ ...opts, type, reference, at: when, seq: this.seq() }));
    return this;
  }

  batch(spec: BatchSpec): this {
    this.facts.batches.push(batchFact(spec));
    return this;
  }

  entry(spec: Unseq<EntrySpec>): this {
    this.facts.entries.push(bankFact({ ...spec, seq: this.seq() }));
    return this;
  }

  credit(spec: Omit<Unseq<EntrySpec>, "direction">): this {
    return this.entry({ ...spec, direction: "credit" });
  }

  debit(spec: Omit<Unseq<EntrySpec>, "direction">): this {
    return this.entry({ ...spec, direction: "debit" });
  }

  /** A bank line moving money the way that settles a payment of `direction`. */
  settlingEntry(direction: Direction, spec: Omit<Unseq<EntrySpec>, "direction">): this {
    return this.entry({ ...spec, direction: settling(direction) });
  }

  reconcile(now: When, policy: Policy = defaultPolicy()): WorldResult {
    return reconcileWorld(this.facts, at(now), policy);
  }
}

export function scenario(): Scenario {
  return new Scenario();
}

// ---------------------------------------------------------------- reading results

export function outcomeOf(result: WorldResult, paymentId: string): PaymentOutcome {
  const outcome = result.payments.get(paymentId);
  if (!outcome) throw new Error(`no outcome for ${paymentId}; have ${[...result.payments.keys()].join(", ")}`);
  return outcome;
}

export function openKeys(result: WorldResult): string[] {
  return [...result.exceptions.keys()].sort();
}

export function paymentExceptionKey(kind: ExceptionKind, paymentId: string): string {
  return exceptionKey({ kind, subject: { type: "payment", paymentId } });
}

export function entryExceptionKey(kind: ExceptionKind, entryId: string, bank = "bank_a"): string {
  return exceptionKey({ kind, subject: { type: "bank_entry", bank, entryId } });
}

export function batchExceptionKey(kind: ExceptionKind, batchId: string, gateway = "stripe"): string {
  return exceptionKey({ kind, subject: { type: "batch", gateway, batchId } });
}

export function eventExceptionKey(kind: ExceptionKind, eventId: string, gateway = "stripe"): string {
  return exceptionKey({ kind, subject: { type: "gateway_event", gateway, eventId } });
}

/** The match of a bank entry (bank_a unless given). */
export function matchOf(result: WorldResult, entryId: string, bank = "bank_a") {
  const match = result.entryMatches.get(`${bank}/${entryId}`);
  if (!match) throw new Error(`no match recorded for ${bank}/${entryId}`);
  return match;
}
