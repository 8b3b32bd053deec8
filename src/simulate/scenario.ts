import { pushTo } from "../grouping.js";
import { addBusinessDays, formatISO } from "date-fns";
import type { BankEntryInput, GatewayEventInput, StatementSummary } from "../messages/schemas.js";
import type { PaymentStatus } from "../reconcile/types.js";

/**
 * Realistic, deterministic (seeded) traffic with its ground truth: expected
 * payments, gateway events, settlement batches net of fees arriving as bank
 * credits on business days, payouts paid, failed, returned and held,
 * refunds, chargebacks, cancellations, installments, a batch short by a fee,
 * unmatched and duplicate bank lines; and money as gateways and banks move it
 * (CONTRACT §8): a dispute won, a negative Adyen batch carried forward into the
 * next one, and an account whose statements have one missing between them.
 * Pure: time is a parameter.
 *
 * `truth` says what each payment's status must be once everything is in,
 * so a test or `payrecon simulate` can check payrecon against it.
 */

export interface ScenarioOptions {
  seed: number;
  /** The instant the scenario is built around (epoch ms); due dates are set relative to it. */
  now: number;
  payments: number;
  gateways?: string[];
  currencies?: string[];
  /** Share of payouts among payments (the rest are collections). */
  payoutShare?: number;
  /** Share of payments that end badly (failed, held, delayed, returned, mismatch…). */
  troubleShare?: number;
  bank?: string;
  /** Prefix of every id, so several scenarios can share a database. */
  prefix?: string;
  /** A scripted incident shaping this wave's outcomes. */
  incident?: Incident;
  /**
   * The CONTRACT §8 flows (a dispute won, a negative Adyen batch carried forward, a missing statement): three
   * of the `payments`, numbered last. Default: on from 10 payments.
   */
  moneyFlows?: boolean;
}

/**
 * Incidents an SRE must catch: a gateway failing most payments (outage), a
 * compliance hold wave, bad upstream account data (account_invalid surge),
 * and a bank whose statement never arrives.
 */
export type Incident =
  | { kind: "gateway_outage"; gateway: string }
  | { kind: "hold_wave"; gateway: string }
  | { kind: "bad_data" }
  | { kind: "statement_missing" };

export const INCIDENT_KINDS = ["gateway_outage", "hold_wave", "bad_data", "statement_missing"] as const;

export interface PaymentTruth {
  status: PaymentStatus;
  direction: "collection" | "payout";
  gateway: string;
  currency: string;
  amountMinor: number;
  settledMinor: number;
  failureCode?: string;
  story: string;
}

export interface Scenario {
  expected: Array<Record<string, unknown>>;
  events: GatewayEventInput[];
  entries: BankEntryInput[];
  truth: Map<string, PaymentTruth>;
  /** Bank entries that must end as `unmatched` once the grace period passes. */
  unmatchedEntries: string[];
  /** Bank entries that must be `duplicate` exceptions. */
  duplicateEntries: string[];
  /** Batches whose bank credit differs from their net. */
  mismatchedBatches: string[];
  /** Bank lines not sent because the statement never arrived. */
  withheldEntries: number;
  /** Those lines: the account's balance moved by them all the same (a statement summary's opening shows it). */
  withheldLines: BankEntryInput[];
  /**
   * Dunning (CONTRACT §9): contacts an operator records on delayed collections once their exceptions are open —
   * the first promised to pay by yesterday (broken at the next follow-up run), the second by next week (running).
   */
  contacts: ScenarioContact[];
  /** Statement summaries for the bank topic (CONTRACT §8), sent after the lines. */
  statements: StatementSummary[];
  /** Statements that must be `statement_gap` exceptions (one is missing before each). */
  gapStatements: string[];
  /** Batches that net to zero and settle with no bank line. */
  nettedBatches: string[];
  /** Batches whose fee is beyond SIMULATED_FEE_SCHEDULE: `fee_variance` exceptions when it is configured. */
  overchargedBatches: string[];
}

export interface ScenarioContact {
  paymentId: string;
  channel: "email" | "phone" | "letter" | "other";
  note: string;
  promisedBy: string;
  /** What follow-up makes of it: the promise `broken` (its day has passed, unpaid) or still `pending`. */
  expect: "broken" | "pending";
}

/** mulberry32: small, fast, good enough to make traffic look random and stay reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const HOUR = 3_600_000;
/** Payments the CONTRACT §8 flows take (see moneyAsItMoves). */
const MONEY_FLOW_PAYMENTS = 5;
/**
 * The fees the simulated gateways charge, as a FEE_SCHEDULE: every simulated batch is within FEE_TOLERANCE of it
 * (percent rounded down rather than half up: at most 1 minor unit apart) except the overcharging one.
 */
export const SIMULATED_FEE_SCHEDULE = "stripe:JPY=2.9%+30,stripe:*=2.9%+25,adyen:JPY=2.9%+30,adyen:*=2.9%+25";
const DAY = 24 * HOUR;
const COLLECTION_FAILURES = ["card_declined", "insufficient_funds", "do_not_honor", "processing_error", "expired_card"];
const PAYOUT_FAILURES = [
  "account_closed",
  "insufficient_funds",
  "invalid_account_number",
  "could_not_process",
  "account_frozen",
];
const RETURN_REASONS = ["AC04", "AC01", "AM04", "MS03", "AC06"];
/** Typical amounts per currency, in minor units (JPY has no decimals, KWD three). */
const AMOUNT_RANGE: Record<string, [number, number]> = {
  JPY: [500, 300_000],
  KWD: [1_000, 900_000],
};

type CollectionStory =
  | "batch_settled"
  | "direct_settled"
  | "settled_late"
  | "installments_partial"
  | "failed"
  | "refunded"
  | "charged_back"
  | "held"
  | "delayed"
  | "pending"
  | "cancelled"
  | "mismatch"
  | "batch_short";
type PayoutStory = "paid" | "failed" | "returned" | "held" | "delayed" | "in_flight" | "duplicate_debit";

export function generateScenario(options: ScenarioOptions): Scenario {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const gateways = options.gateways ?? ["stripe", "adyen"];
  const currencies = options.currencies ?? ["EUR", "USD", "GBP", "JPY", "KWD"];
  const payoutShare = options.payoutShare ?? 0.3;
  const trouble = options.troubleShare ?? 0.15;
  const bank = options.bank ?? "bank_a";
  const prefix = options.prefix ?? "sim";
  const now = options.now;
  const iso = (ms: number) => new Date(ms).toISOString();
  const date = (ms: number) => formatISO(ms, { representation: "date" }).slice(0, 10);
  const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

  const scenario: Scenario = {
    expected: [],
    events: [],
    entries: [],
    truth: new Map(),
    unmatchedEntries: [],
    duplicateEntries: [],
    mismatchedBatches: [],
    withheldEntries: 0,
    withheldLines: [],
    contacts: [],
    statements: [],
    gapStatements: [],
    nettedBatches: [],
    overchargedBatches: [],
  };
  let eventSeq = 0;
  let entrySeq = 0;
  const event = (fields: Record<string, unknown>) => {
    scenario.events.push({ event_id: `${prefix}-evt-${++eventSeq}`, ...fields } as GatewayEventInput);
  };
  const entry = (fields: Partial<BankEntryInput>): string => {
    const id = `${prefix}-${bank}-${++entrySeq}`;
    scenario.entries.push({
      entry_id: id,
      bank,
      account: "DE89370400440532013000",
      booking_date: utcDate(now - DAY),
      value_date: utcDate(now - DAY),
      status: "booked",
      end_to_end_id: null,
      counterparty_name: null,
      ...fields,
    } as BankEntryInput);
    return id;
  };
  const amountFor = (currency: string) => {
    const [low, high] = AMOUNT_RANGE[currency] ?? [500, 250_000];
    return low + Math.floor(random() * (high - low));
  };

  // Collections settled in daily batches: grouped per gateway × currency, paid net of fees.
  const batches = new Map<string, Array<{ reference: string; amount: number; short: boolean }>>();

  const flowPayments = (options.moneyFlows ?? options.payments >= 10) ? MONEY_FLOW_PAYMENTS : 0;
  for (let n = 1; n <= options.payments - flowPayments; n++) {
    const id = `${prefix}_${n}`;
    const reference = `${prefix.toUpperCase()}-${n}`;
    const gateway = pick(gateways);
    const currency = pick(currencies);
    const amount = amountFor(currency);
    const payout = random() < payoutShare;
    const troubled = random() < trouble;
    const created = now - (2 + Math.floor(random() * 3)) * DAY;
    const counterparty = `cp_${1 + Math.floor(random() * 50)}`;
    const base = {
      id,
      direction: payout ? "payout" : "collection",
      amount_minor: amount,
      currency,
      gateway,
      reference,
      counterparty,
      created_at: iso(created),
    };
    // withoutBank: the status when the bank statement never arrives (statement_missing).
    const truth = (
      status: PaymentStatus,
      settled: number,
      story: string,
      failureCode?: string,
      withoutBank?: PaymentStatus,
    ) =>
      scenario.truth.set(id, {
        status,
        direction: payout ? "payout" : "collection",
        gateway,
        currency,
        amountMinor: amount,
        settledMinor: settled,
        failureCode,
        story,
        ...(withoutBank && options.incident?.kind === "statement_missing"
          ? { status: withoutBank, settledMinor: 0, failureCode: undefined }
          : {}),
      });

    const incident = options.incident;
    const hitByOutage = incident?.kind === "gateway_outage" && incident.gateway === gateway && random() < 0.8;
    if (!payout) {
      const story: CollectionStory = hitByOutage
        ? "failed"
        : troubled
          ? pick([
              "failed",
              "failed",
              "refunded",
              "charged_back",
              "held",
              "delayed",
              "delayed",
              "pending",
              "cancelled",
              "mismatch",
              "batch_short",
              "installments_partial",
            ] as const)
          : pick([
              "batch_settled",
              "batch_settled",
              "batch_settled",
              "batch_settled",
              "direct_settled",
              "settled_late",
            ] as const);
      const dueSoon = now + (1 + Math.floor(random() * 5)) * DAY;
      const capturedAt = created + HOUR;
      switch (story) {
        case "batch_settled":
        case "batch_short": {
          scenario.expected.push({ ...base, due_at: iso(dueSoon) });
          event({
            gateway,
            type: "payment.captured",
            reference,
            amount_minor: amount,
            currency,
            occurred_at: iso(capturedAt),
          });
          const key = `${gateway}|${currency}|${story === "batch_short" ? "short" : "ok"}`;
          pushTo(batches, key, { reference, amount, short: story === "batch_short" });
          if (story === "batch_short") truth("in_flight", 0, "in a batch the bank paid short");
          else truth("settled", amount, "settled in a daily batch net of fees", undefined, "in_flight");
          break;
        }
        case "direct_settled":
        case "settled_late": {
          const due = story === "settled_late" ? now - 3 * DAY : dueSoon;
          scenario.expected.push({ ...base, created_at: iso(Math.min(created, due - DAY)), due_at: iso(due) });
          const valueDate = now - DAY;
          entry({
            direction: "credit",
            amount_minor: amount,
            currency,
            value_date: utcDate(valueDate),
            booking_date: utcDate(valueDate),
            end_to_end_id: reference,
            remittance_info: `INVOICE ${reference}`,
          });
          truth(
            "settled",
            amount,
            story === "settled_late" ? "bank transfer, late" : "bank transfer on time",
            undefined,
            story === "settled_late" ? "delayed" : "pending",
          );
          break;
        }
        case "installments_partial": {
          const first = Math.floor(amount / 2);
          const installments = [
            { amount_minor: first, due_at: iso(now - DAY) },
            { amount_minor: amount - first, due_at: iso(now + 20 * DAY) },
          ];
          scenario.expected.push({ ...base, due_at: iso(now + 20 * DAY), installments });
          entry({
            direction: "credit",
            amount_minor: first,
            currency,
            value_date: utcDate(now - DAY),
            end_to_end_id: reference,
            remittance_info: `INSTALLMENT 1 ${reference}`,
          });
          truth("partially_settled", first, "first of two installments paid", undefined, "delayed");
          break;
        }
        case "failed": {
          const code = hitByOutage ? "processing_error" : pick(COLLECTION_FAILURES);
          scenario.expected.push({ ...base, due_at: iso(dueSoon) });
          event({
            gateway,
            type: "payment.failed",
            reference,
            amount_minor: amount,
            currency,
            occurred_at: iso(capturedAt),
            failure_code: code,
            failure_message: `simulated ${code}`,
          });
          truth("failed", 0, "declined at the gateway", code);
          break;
        }
        case "refunded":
        case "charged_back": {
          scenario.expected.push({ ...base, due_at: iso(dueSoon) });
          event({
            gateway,
            type: "payment.captured",
            reference,
            amount_minor: amount,
            currency,
            occurred_at: iso(capturedAt),
          });
          event({
            gateway,
            type: story === "refunded" ? "payment.refunded" : "payment.chargeback",
            reference,
            amount_minor: amount,
            currency,
            occurred_at: iso(capturedAt + 5 * HOUR),
            failure_code: story === "charged_back" ? "fraudulent" : null,
          });
          truth(story, 0, story === "refunded" ? "refunded in full" : "charged back");
          break;
        }
        case "held": {
          scenario.expected.push({ ...base, created_at: iso(now - 5 * DAY), due_at: iso(dueSoon) });
          event({
            gateway,
            type: "payment.captured",
            reference,
            amount_minor: amount,
            currency,
            occurred_at: iso(now - 4 * DAY),
          });
          truth("held", 0, "captured four days ago and in no batch");
          break;
        }
        case "delayed":
          scenario.expected.push({
            ...base,
            created_at: iso(Math.min(created, now - 3 * DAY)),
            due_at: iso(now - 2 * DAY),
          });
          truth("delayed", 0, "due two days ago, nothing arrived");
          if (scenario.contacts.length < 2) {
            const broken = scenario.contacts.length === 0;
            scenario.contacts.push({
              paymentId: id,
              channel: broken ? "phone" : "email",
              note: broken ? "accounts payable promised a transfer" : "reminder sent; they will pay next week",
              promisedBy: utcDate(broken ? now - DAY : now + 7 * DAY),
              expect: broken ? "broken" : "pending",
            });
          }
          break;
        case "pending":
          scenario.expected.push({ ...base, due_at: iso(dueSoon) });
          truth("pending", 0, "nothing yet, not due");
          break;
        case "cancelled":
          scenario.expected.push({ ...base, due_at: iso(dueSoon) });
          scenario.expected.push({ id, cancelled: true });
          truth("cancelled", 0, "cancelled upstream");
          break;
        case "mismatch": {
          scenario.expected.push({ ...base, due_at: iso(dueSoon) });
          const short = Math.max(1, Math.floor(amount * 0.03));
          entry({
            direction: "credit",
            amount_minor: amount - short,
            currency,
            end_to_end_id: reference,
            remittance_info: `PAYMENT ${reference}`,
          });
          truth("mismatch", amount - short, "bank credit short of the expected amount", undefined, "pending");
          break;
        }
      }
      continue;
    }

    const holdWave = incident?.kind === "hold_wave" && incident.gateway === gateway && random() < 0.6;
    const badData = incident?.kind === "bad_data" && random() < 0.5;
    const story: PayoutStory =
      hitByOutage || badData
        ? "failed"
        : holdWave
          ? "held"
          : troubled
            ? pick(["failed", "failed", "returned", "held", "delayed", "in_flight", "duplicate_debit"] as const)
            : "paid";
    const submitted = created + 2 * HOUR;
    const dueSoon = now + (1 + Math.floor(random() * 3)) * DAY;
    const due = story === "delayed" ? now - DAY : dueSoon;
    scenario.expected.push({ ...base, due_at: iso(due) });
    event({
      gateway,
      type: "payout.submitted",
      reference,
      amount_minor: amount,
      currency,
      occurred_at: iso(submitted),
    });
    const debit = () =>
      entry({
        direction: "debit",
        amount_minor: amount,
        currency,
        end_to_end_id: reference,
        remittance_info: `PAYOUT ${reference} ${counterparty.toUpperCase()}`,
      });
    switch (story) {
      case "paid":
      case "duplicate_debit":
        event({
          gateway,
          type: "payout.paid",
          reference,
          amount_minor: amount,
          currency,
          occurred_at: iso(submitted + 6 * HOUR),
        });
        debit();
        if (story === "duplicate_debit") {
          scenario.duplicateEntries.push(debit());
          truth("settled", amount, "paid, and the bank booked the debit twice", undefined, "in_flight");
        } else {
          truth("settled", amount, "paid out", undefined, "in_flight");
        }
        break;
      case "failed": {
        const code = hitByOutage
          ? pick(["could_not_process", "counterpartyBankTimedOut"])
          : badData
            ? pick(["invalid_account_number", "no_account", "AC01"])
            : pick(PAYOUT_FAILURES);
        event({
          gateway,
          type: "payout.failed",
          reference,
          amount_minor: amount,
          currency,
          occurred_at: iso(submitted + 3 * HOUR),
          failure_code: code,
          failure_message: `simulated ${code}`,
        });
        truth("failed", 0, "failed at the gateway", code);
        break;
      }
      case "returned": {
        const reason = pick(RETURN_REASONS);
        event({
          gateway,
          type: "payout.paid",
          reference,
          amount_minor: amount,
          currency,
          occurred_at: iso(submitted + 6 * HOUR),
        });
        debit();
        entry({
          direction: "credit",
          status: "returned",
          amount_minor: amount,
          currency,
          value_date: utcDate(now),
          booking_date: utcDate(now),
          end_to_end_id: reference,
          remittance_info: `RETURN ${reference}`,
          return_reason: reason,
        });
        truth("failed", 0, "paid, then returned by the bank", reason, "in_flight");
        break;
      }
      case "held":
        event({
          gateway,
          type: "payout.held",
          reference,
          amount_minor: amount,
          currency,
          occurred_at: iso(submitted + HOUR),
          hold_reason: "compliance_review",
        });
        truth("held", 0, "held for compliance review");
        break;
      case "delayed":
        truth("delayed", 0, "submitted, overdue, no debit");
        break;
      case "in_flight":
        truth("in_flight", 0, "submitted, not yet due");
        break;
    }
  }

  // One batch per gateway × currency (× paid short), net of a 2.9% + fixed fee, credited on the next business day.
  let batchSeq = 0;
  for (const [key, members] of batches) {
    const [gateway, currency, kind] = key.split("|") as [string, string, string];
    const batchId = `${prefix}_batch_${++batchSeq}`;
    const gross = members.reduce((sum, member) => sum + member.amount, 0);
    const fee = Math.floor(gross * 0.029) + members.length * (currency === "JPY" ? 30 : 25);
    const net = gross - fee;
    const arrival = addBusinessDays(now - 2 * DAY, 1).getTime();
    event({
      gateway,
      type: "settlement.batch",
      batch_id: batchId,
      gross_minor: gross,
      fee_minor: fee,
      amount_minor: net,
      currency,
      occurred_at: iso(now - 2 * DAY),
      expected_arrival: utcDate(arrival),
      references: members.map((member) => member.reference),
    });
    const short = kind === "short";
    // A bank short by a fee on the "short" batch: the batch is a mismatch and its payments stay unsettled.
    entry({
      direction: "credit",
      amount_minor: short ? net - 100 : net,
      currency,
      value_date: utcDate(arrival),
      booking_date: utcDate(arrival),
      remittance_info: `${gateway.toUpperCase()} PAYOUT ${batchId}`,
      counterparty_name: `${gateway.toUpperCase()} PAYMENTS`,
    });
    if (short) scenario.mismatchedBatches.push(batchId);
  }

  // Credits nobody expected, no reference: the size of a large customer payment (2,500.00–7,500.00 EUR), above
  // every single payment's range so no amount match can claim them, yet not dwarfing the day's traffic.
  const strays = Math.max(1, Math.floor(options.payments / 200));
  for (let n = 0; n < strays; n++) {
    scenario.unmatchedEntries.push(
      entry({
        direction: "credit",
        amount_minor: 250_001 + Math.floor(random() * 500_000),
        currency: "EUR",
        remittance_info: `UNKNOWN SENDER ${Math.floor(random() * 1e9)}`,
        counterparty_name: "UNKNOWN",
      }),
    );
  }
  if (flowPayments > 0) moneyAsItMoves();
  void date;
  if (options.incident?.kind === "statement_missing") {
    // The statement never arrives: no bank line at all in this wave.
    scenario.withheldEntries = scenario.entries.length;
    scenario.withheldLines = scenario.entries;
    scenario.entries = [];
    scenario.unmatchedEntries = [];
    scenario.duplicateEntries = [];
    scenario.mismatchedBatches = [];
    scenario.statements = [];
    scenario.gapStatements = [];
  }
  return scenario;

  /**
   * CONTRACT §8 flows, after the random stories (so they do not change which story each payment got).
   * Numbered after the random payments, with the same id and reference shapes.
   */
  function moneyAsItMoves() {
    let n = options.payments - flowPayments;
    const collection = (gateway: string, currency: string, amount: number, story: string) => {
      const id = `${prefix}_${++n}`;
      const reference = `${prefix.toUpperCase()}-${n}`;
      scenario.expected.push({
        id,
        direction: "collection",
        amount_minor: amount,
        currency,
        gateway,
        reference,
        counterparty: `cp_${n % 50}`,
        created_at: iso(now - 3 * DAY),
        due_at: iso(now + 2 * DAY),
      });
      const truth = (status: PaymentStatus, withoutBank: PaymentStatus = status) =>
        scenario.truth.set(id, {
          status: options.incident?.kind === "statement_missing" ? withoutBank : status,
          direction: "collection",
          gateway,
          currency,
          amountMinor: amount,
          settledMinor:
            (options.incident?.kind === "statement_missing" ? withoutBank : status) === "settled" ? amount : 0,
          story,
        });
      return { reference, truth };
    };

    // A dispute won: paid by bank transfer, charged back, reinstated → settled again.
    const won = collection("stripe", "EUR", 48_000, "charged back, dispute won: settled again");
    for (const [type, hoursAgo] of [
      ["payment.captured", 30],
      ["payment.chargeback", 20],
      ["payment.chargeback_reversed", 2],
    ] as const) {
      event({
        gateway: "stripe",
        type,
        reference: won.reference,
        amount_minor: 48_000,
        currency: "EUR",
        occurred_at: iso(now - hoursAgo * HOUR),
        failure_code: type === "payment.chargeback" ? "fraudulent" : null,
      });
    }
    entry({
      direction: "credit",
      amount_minor: 48_000,
      currency: "EUR",
      end_to_end_id: won.reference,
      remittance_info: `INVOICE ${won.reference}`,
    });
    won.truth("settled", "in_flight");

    // FX: a USD invoice paid by a US customer into the EUR account; the bank converted it and says what was
    // instructed (camt InstdAmt, MT940 /OCMT/), so the line settles the USD payment in full.
    const usd = collection(
      "stripe",
      "USD",
      123_457,
      "paid in USD into the EUR account: settled through the instructed amount",
    );
    entry({
      direction: "credit",
      amount_minor: Math.round(123_457 / 1.0842),
      currency: "EUR",
      instructed_amount_minor: 123_457,
      instructed_currency: "USD",
      fx_rate: 1.0842,
      end_to_end_id: usd.reference,
      remittance_info: `INVOICE ${usd.reference}`,
    });
    usd.truth("settled", "pending");

    // A negative Adyen batch: a chargeback of an older order outweighs the day's sale. Adyen carries the
    // balance into the next batch (balance transfer): the first nets to zero (netted, no bank line), the
    // second's credit is its net minus the balance brought in.
    const small = collection("adyen", "EUR", 9_000, "in a negative Adyen batch carried forward (netted)");
    const large = collection("adyen", "EUR", 150_000, "in the Adyen batch that took the carried balance");
    const chargebackOfOlder = 25_000;
    const smallFee = 25; // no percent on a negative gross
    const carried = 9_000 - chargebackOfOlder - smallFee; // negative: what batch 1 owes
    const largeFee = Math.floor(150_000 * 0.029) + 25;
    const negativeId = `${prefix}_adyen_negative`;
    const takingId = `${prefix}_adyen_taking`;
    const arrival = utcDate(now - DAY);
    /** A EUR batch of one payment arriving yesterday, and the bank credit paying it (none for a zero net). */
    const flowBatch = (
      gateway: string,
      batchId: string,
      reference: string,
      at: number,
      sums: { gross: number; fee: number; carried?: number },
    ) => {
      const net = sums.gross - sums.fee + (sums.carried ?? 0);
      event({
        gateway,
        type: "settlement.batch",
        batch_id: batchId,
        gross_minor: sums.gross,
        fee_minor: sums.fee,
        ...(sums.carried === undefined ? {} : { carried_forward_minor: sums.carried }),
        amount_minor: net,
        currency: "EUR",
        occurred_at: iso(at),
        expected_arrival: arrival,
        references: [reference],
      });
      if (net === 0) return;
      entry({
        direction: "credit",
        amount_minor: net,
        currency: "EUR",
        value_date: arrival,
        booking_date: arrival,
        remittance_info: `${gateway.toUpperCase()} PAYOUT ${batchId}`,
        counterparty_name: `${gateway.toUpperCase()} PAYMENTS`,
      });
    };
    flowBatch("adyen", negativeId, small.reference, now - 2 * DAY, {
      gross: 9_000 - chargebackOfOlder,
      fee: smallFee,
      carried: -carried,
    });
    flowBatch("adyen", takingId, large.reference, now - 2 * DAY + HOUR, { gross: 150_000, fee: largeFee, carried });
    scenario.nettedBatches.push(negativeId);
    small.truth("settled");
    large.truth("settled", "in_flight");

    // An overcharging gateway: a Stripe batch whose fee is three times its contract's. Its payment still settles.
    const overcharged = collection("stripe", "EUR", 80_000, "in a batch the gateway overcharged");
    const overchargedId = `${prefix}_stripe_overcharged`;
    flowBatch("stripe", overchargedId, overcharged.reference, now - 2 * DAY, {
      gross: 80_000,
      fee: 3 * (Math.floor(80_000 * 0.029) + 25),
    });
    scenario.overchargedBatches.push(overchargedId);
    overcharged.truth("settled", "in_flight");

    // Statements of a second account: the middle day's never arrived, so the third's opening balance is not
    // the first's closing (a statement_gap).
    const account = `${prefix}-STATEMENTS`.slice(0, 64);
    const statement = (day: number, balance: number): StatementSummary => ({
      type: "statement",
      statement_id: `${prefix}-stmt-${day}`,
      bank,
      account,
      currency: "EUR",
      from_date: utcDate(now - day * DAY),
      to_date: utcDate(now - day * DAY),
      opening_booked_minor: balance,
      closing_booked_minor: balance,
      entry_ids: [],
    });
    scenario.statements.push(statement(4, 1_000_000), statement(2, 1_250_000));
    scenario.gapStatements.push(`${prefix}-stmt-2`);
  }
}

/** Shuffle in place with the scenario's generator (Fisher–Yates), for out-of-order delivery. */
export function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
