import type pg from "pg";
import {
  type BankEntryRow,
  type ExpectedVersionRow,
  type GatewayEventRow,
  insertBankEntries,
  insertBatchReferences,
  insertExpectedVersions,
  insertGatewayEvents,
  insertRejected,
  recordFreshness,
} from "../db/queries/facts.js";
import { enqueueOutbox, type OutboxMessage } from "../db/queries/outbox.js";
import { withTransaction } from "../db/transaction.js";
import { justStoredFacts } from "../db/queries/worldFacts.js";
import { firstByKey } from "../grouping.js";
import { countIgnoredGatewayEvent, type Metrics, observeEventTime } from "../metrics/registry.js";
import { referenceKey, remittanceTokens } from "../reconcile/references.js";
import { batchKey, emptyTouched, type TouchedFacts } from "../reconcile/touched.js";
import type { GatewayFacts } from "../adapters/gatewayFacts.js";
import type { GatewayEvent } from "../messages/schemas.js";
import { type Decoded, decodeMessage, MAX_DETAIL_CHARS, type RawMessage } from "./decode.js";
import {
  asConflicts,
  conflictingBankEntries,
  conflictingStatements,
  conflictingExpectedVersions,
  conflictingGatewayEvents,
  type InputConflict,
  notStoredNow,
} from "./conflicts.js";
import { recordConflicts } from "../writer/conflictExceptions.js";
import { checkStatements } from "../writer/statementChecks.js";
import { insertStatements, type StatementRow } from "../db/queries/statements.js";
import { settleStripePayouts } from "./stripePayouts.js";

/**
 * The one path from input messages to stored facts, shared by the Kafka
 * consumer and HTTP ingest: decode, then in ONE transaction insert the new
 * facts (set-based, idempotent), record rejections and their dead letters,
 * and re-reconcile what the new facts touched.
 */

export interface ReconcileEffects {
  /** Called after commit, so metrics only ever count committed changes. */
  afterCommit(): void;
  /** How many payments, entries, batches and events changed (when the engine counts them). */
  changed?: number;
}

/**
 * `clock` is read once the reconciliation holds its lock (see reconcileTouched); the memory engine's apply-ahead reads
 * it before, and takes a time after the last one applied (the lock then checks nothing was committed in between).
 */
export type FactReconciler = (tx: pg.PoolClient, touched: TouchedFacts, clock: () => Date) => Promise<ReconcileEffects>;

export interface IngestDeps {
  pool: pg.Pool;
  metrics: Metrics;
  topics: { dlq: string };
  /** Dead letters go to Kafka only when Kafka is configured; they are always recorded in the database. */
  deadLetterToKafka: boolean;
  reconcile: FactReconciler;
  now: () => Date;
  /** After each committed batch (e.g. refresh gauges). */
  afterCommit?: () => void;
  /** A rejected message's value is stored cut to this many bytes (REJECTED_MESSAGE_MAX_BYTES). */
  rejectedMaxBytes?: number;
}

/** Enough to read what a producer sent; the original size and SHA-256 are kept beside a cut value. */
export const DEFAULT_REJECTED_MAX_BYTES = 64 * 1024;

/** `ignored`: a gateway payload understood but holding no fact payrecon reconciles. */
export type LineStatus = "accepted" | "duplicate" | "rejected" | "ignored";

export interface IngestResult {
  lines: Array<{ status: LineStatus; reason?: string; detail?: string }>;
  accepted: number;
  duplicates: number;
  rejected: number;
}

type Accepted = Exclude<Decoded, { ok: false }>;

type Rejected = Extract<Decoded, { ok: false }>;

/** The stored facts a message stands for; none for a gateway payload payrecon ignores. */
function factKeys(decoded: Accepted): string[] {
  switch (decoded.kind) {
    case "expected":
      return [`e\u0000${decoded.message.id}\u0000${decoded.hash.toString("hex")}`];
    case "gateway":
      return [`g\u0000${decoded.message.gateway}\u0000${decoded.message.event_id}`];
    case "bank":
      return [`b\u0000${decoded.message.bank}\u0000${decoded.message.entry_id}`];
    case "statement":
      return [`s\u0000${decoded.message.bank}\u0000${decoded.message.statement_id}`];
    case "native":
      return [
        ...decoded.events.map((event) => `g\u0000${event.gateway}\u0000${event.event_id}`),
        ...decoded.facts.stripePayouts.map((payout) => `sp\u0000${payout.payoutId}`),
        ...decoded.facts.stripeBalanceTransactions.map((txn) => `st\u0000${txn.transactionId}`),
      ];
  }
}

/**
 * One rejection (reason `conflict`) per message holding a fact whose key is stored already with other
 * facts (CONTRACT §8): recorded and dead-lettered, while the first version stays in force.
 */
function conflictRejections(
  conflicts: InputConflict<object>[],
  origin: Map<object, Accepted>,
): Map<Accepted, Rejected> {
  const byMessage = new Map<Accepted, Rejected>();
  for (const conflict of conflicts) {
    const item = origin.get(conflict.row);
    if (!item) continue;
    const detail = `${conflict.what} is stored already with other content; the first version stays`;
    const said = byMessage.get(item);
    if (said) said.detail = `${said.detail}; ${detail}`.slice(0, MAX_DETAIL_CHARS);
    else
      byMessage.set(item, { ok: false, raw: item.raw, reason: "conflict", detail: detail.slice(0, MAX_DETAIL_CHARS) });
  }
  return byMessage;
}

function sourceOf(raw: RawMessage): string {
  return raw.source === "kafka" ? `kafka:${raw.topic}/${raw.partition}/${raw.offset}` : `http:${raw.topic}`;
}

export interface IngestOptions {
  /** Runs first in the transaction that stores these messages (the Kafka consumer records its positions there). */
  inTransaction?: (tx: pg.PoolClient) => Promise<void>;
}

export async function ingestMessages(
  deps: IngestDeps,
  raws: RawMessage[],
  options: IngestOptions = {},
): Promise<IngestResult> {
  const decoded = raws.map(decodeMessage);
  const now = deps.now();
  const expected: ExpectedVersionRow[] = [];
  const events: GatewayEventRow[] = [];
  const entries: BankEntryRow[] = [];
  const statements: StatementRow[] = [];
  // Freshness is when payrecon received a source's newest message: a feed is alive when messages arrive,
  // whatever business time they carry (a statement's booking date is a day, a replay carries old times).
  const freshness: { topic: string; source: string; lastEvent: string }[] = [];
  const batchRefs: { gateway: string; batchId: string; referenceKey: string }[] = [];
  const stripePayouts: GatewayFacts["stripePayouts"] = [];
  const stripeTransactions: GatewayFacts["stripeBalanceTransactions"] = [];
  const partlyRejected: Rejected[] = [];
  // Which decoded message each fact row came from (none for Stripe payouts settled here).
  const origin = new Map<object, Accepted>();
  const addGatewayEvent = (event: GatewayEvent, source: string, from?: Accepted) => {
    const isBatch = event.type === "settlement.batch";
    const row: GatewayEventRow = {
      gateway: event.gateway,
      eventId: event.event_id,
      type: event.type,
      reference: isBatch ? null : event.reference,
      referenceKey: isBatch ? null : referenceKey(event.reference),
      batchId: isBatch ? event.batch_id : null,
      gatewayPaymentId: isBatch ? null : event.gateway_payment_id,
      amountMinor: event.amount_minor,
      currency: event.currency,
      occurredAt: event.occurred_at,
      failureCode: isBatch ? null : event.failure_code,
      holdReason: isBatch ? null : event.hold_reason,
      body: event,
      source,
    };
    events.push(row);
    if (from) origin.set(row, from);
    if (isBatch) {
      for (const reference of event.references) {
        batchRefs.push({ gateway: event.gateway, batchId: event.batch_id, referenceKey: referenceKey(reference) });
      }
    }
  };

  for (const item of decoded) {
    if (!item.ok) continue;
    const source = sourceOf(item.raw);
    if (item.kind === "expected") {
      const message = item.message;
      const row: ExpectedVersionRow = {
        paymentId: message.id,
        contentHash: item.hash,
        version: message.version ?? null,
        cancelled: message.cancelled === true,
        body: message,
        source,
      };
      expected.push(row);
      origin.set(row, item);
      if (message.cancelled !== true) {
        freshness.push({
          topic: item.raw.topic,
          source: message.gateway,
          lastEvent: now.toISOString(),
        });
      }
    } else if (item.kind === "gateway") {
      addGatewayEvent(item.message, source, item);
      freshness.push({ topic: item.raw.topic, source: item.message.gateway, lastEvent: now.toISOString() });
    } else if (item.kind === "native") {
      for (const event of item.events) addGatewayEvent(event, source, item);
      stripePayouts.push(...item.facts.stripePayouts);
      stripeTransactions.push(...item.facts.stripeBalanceTransactions);
      // Part of the payload could not be used (one bad Adyen item of several): the rest is kept,
      // the message is also dead-lettered, saying which part.
      if (item.facts.invalid.length > 0) {
        partlyRejected.push({
          ok: false,
          raw: item.raw,
          reason: "gateway_payload",
          detail: item.facts.invalid.join("; ").slice(0, MAX_DETAIL_CHARS),
        });
      }
      freshness.push({ topic: item.raw.topic, source: item.gateway, lastEvent: now.toISOString() });
    } else if (item.kind === "statement") {
      const statement = item.message;
      const row: StatementRow = {
        bank: statement.bank,
        statementId: statement.statement_id,
        account: statement.account,
        currency: statement.currency,
        fromDate: statement.from_date,
        toDate: statement.to_date,
        openingMinor: statement.opening_booked_minor,
        closingMinor: statement.closing_booked_minor,
        entryIds: statement.entry_ids,
        body: statement,
        source,
      };
      statements.push(row);
      origin.set(row, item);
      freshness.push({ topic: item.raw.topic, source: statement.bank, lastEvent: now.toISOString() });
    } else {
      const entry = item.message;
      const row: BankEntryRow = {
        bank: entry.bank,
        entryId: entry.entry_id,
        account: entry.account,
        direction: entry.direction,
        amountMinor: entry.amount_minor,
        currency: entry.currency,
        bookingDate: entry.booking_date,
        valueDate: entry.value_date,
        status: entry.status,
        endToEndId: entry.end_to_end_id,
        remittanceInfo: entry.remittance_info,
        counterpartyName: entry.counterparty_name,
        returnReason: entry.return_reason,
        body: entry,
        source,
        tokens: remittanceTokens(entry.end_to_end_id, entry.remittance_info),
      };
      entries.push(row);
      origin.set(row, item);
      freshness.push({ topic: item.raw.topic, source: entry.bank, lastEvent: now.toISOString() });
    }
  }

  const rejectedBeforeStoring = [...decoded.flatMap((item) => (item.ok ? [] : [item])), ...partlyRejected];
  const maxBytes = deps.rejectedMaxBytes ?? DEFAULT_REJECTED_MAX_BYTES;
  const { fresh, effects, conflicts, inputConflicts, rejectedItems, statementChecks } = await withTransaction(
    deps.pool,
    async (tx) => {
      await options.inTransaction?.(tx);
      const expectedConflicts = await conflictingExpectedVersions(tx, expected);
      const conflictingVersions = new Set<ExpectedVersionRow>(expectedConflicts.map((conflict) => conflict.row));
      const newVersions = await insertExpectedVersions(
        tx,
        expected.filter((row) => !conflictingVersions.has(row)),
      );
      // Stripe payouts whose composition became known in this batch join its events as settlement batches.
      const stripe = await settleStripePayouts(tx, stripePayouts, stripeTransactions, now);
      for (const event of stripe.batches) addGatewayEvent(event, "stripe:balance_transactions");
      const newEvents = await insertGatewayEvents(tx, events);
      const eventKey = (event: { gateway: string; eventId: string }) => `${event.gateway}\u0000${event.eventId}`;
      const gatewayConflicts = await conflictingGatewayEvents(
        tx,
        notStoredNow(events, eventKey, new Set(newEvents.map(eventKey))),
      );
      // Only the references of batches new in this transaction; a Set, as a batch may list 10,000.
      const newBatches = new Set(
        newEvents.flatMap((event) => (event.batchId ? [batchKey(event.gateway, event.batchId)] : [])),
      );
      await insertBatchReferences(
        tx,
        batchRefs.filter((ref) => newBatches.has(batchKey(ref.gateway, ref.batchId))),
      );
      const newEntries = await insertBankEntries(tx, entries);
      const entryKey = (entry: { bank: string; entryId: string }) => `${entry.bank}\u0000${entry.entryId}`;
      const entryConflicts = await conflictingBankEntries(
        tx,
        notStoredNow(entries, entryKey, new Set(newEntries.map(entryKey))),
      );
      const inputConflicts: InputConflict<object>[] = [
        ...asConflicts(expectedConflicts, origin, (row) => ({
          subject: { type: "payment", paymentId: row.paymentId },
          what: `expected payment ${row.paymentId} version ${row.version}`,
        })),
        ...asConflicts(gatewayConflicts, origin, (row) => ({
          subject: { type: "gateway_event", gateway: row.gateway, eventId: row.eventId },
          what: `${row.gateway} event ${row.eventId}`,
        })),
        ...asConflicts(entryConflicts, origin, (row) => ({
          subject: { type: "bank_entry", bank: row.bank, entryId: row.entryId },
          what: `bank entry ${row.bank}/${row.entryId}`,
        })),
      ];
      const newStatements = await insertStatements(tx, statements);
      const statementKey = (statement: { bank: string; statementId: string }) =>
        `${statement.bank}\u0000${statement.statementId}`;
      const statementConflicts = await conflictingStatements(
        tx,
        notStoredNow(statements, statementKey, new Set(newStatements.map(statementKey))),
      );
      inputConflicts.push(
        ...asConflicts(statementConflicts, origin, (row) => ({
          subject: { type: "statement", bank: row.bank, statementId: row.statementId },
          what: `statement ${row.bank}/${row.statementId}`,
        })),
      );
      const conflicts = conflictRejections(inputConflicts, origin);
      await recordConflicts(tx, inputConflicts, now);
      const rejectedItems = [...rejectedBeforeStoring, ...conflicts.values()];
      const freshRejections = await insertRejected(
        tx,
        rejectedItems.map((item) => ({
          source: item.raw.source,
          topic: item.raw.topic,
          partition: item.raw.partition,
          offset: item.raw.offset,
          key: item.raw.key,
          value: item.raw.value ?? Buffer.alloc(0),
          reason: item.reason,
          detail: item.detail,
        })),
        maxBytes,
      );
      if (deps.deadLetterToKafka) {
        await enqueueOutbox(
          tx,
          freshRejections.map((index): OutboxMessage => {
            const item = rejectedItems[index]!;
            return {
              topic: deps.topics.dlq,
              key: item.raw.key,
              value: item.raw.value ?? Buffer.alloc(0),
              headers: {
                "x-payrecon-error": `${item.reason}: ${item.detail}`,
                "x-payrecon-source-topic": item.raw.topic,
                "x-payrecon-source-partition": String(item.raw.partition ?? ""),
                "x-payrecon-source-offset": String(item.raw.offset ?? ""),
              },
            };
          }),
        );
      }

      const touched = emptyTouched();
      for (const version of newVersions) touched.paymentIds.add(version.paymentId);
      for (const event of newEvents) {
        if (event.referenceKey) touched.referenceKeys.add(event.referenceKey);
        if (event.batchId) touched.batchKeys.add(batchKey(event.gateway, event.batchId));
        touched.gatewayEventSeqs.add(event.seq);
      }
      for (const entry of newEntries) touched.entrySeqs.add(entry.seq);
      // What was just inserted, with what PostgreSQL assigned: the memory engine need not read it back.
      touched.stored = () => {
        const versionRows = firstByKey(expected, (row) => `${row.paymentId}\u0000${row.contentHash.toString("hex")}`);
        const eventRows = firstByKey(events, eventKey);
        const entryRows = firstByKey(entries, entryKey);
        return justStoredFacts({
          versions: newVersions.map((version) => {
            const row = versionRows.get(`${version.paymentId}\u0000${version.contentHash}`)!;
            return { ...version, version: row.version, cancelled: row.cancelled, body: row.body };
          }),
          events: newEvents.map((event) => ({ ...event, body: eventRows.get(eventKey(event))!.body })),
          entries: newEntries.map((entry) => ({ ...entry, body: entryRows.get(entryKey(entry))!.body })),
        });
      };
      const reconcileEffects = await deps.reconcile(tx, touched, deps.now);
      // Under the reconciliation lock, which every writer takes and holds until its commit: checks of one bank's
      // statements run one transaction at a time without holding the bank's lock while the facts are stored (taken
      // before it, the bank's lock made every group with bank lines wait for the last one's commit before storing
      // its own facts: 20 % of PostgreSQL's time in the bench was that wait, and the groups' pipeline stalled).
      const statementChecks = await checkStatements(
        tx,
        newStatements.map((statement) => statement.seq),
        newEntries,
        now,
      );
      // Only now, under the reconciliation lock: every batch updates the same few rows, and written with the facts
      // they made the next batch wait for this one's commit before writing its own facts (pg_stat_statements:
      // 43% of PostgreSQL's time was this statement waiting), which undid the pipeline of groups.
      await recordFreshness(tx, freshness);

      const stored = new Set<string>();
      for (const version of newVersions) stored.add(`e\u0000${version.paymentId}\u0000${version.contentHash}`);
      for (const event of newEvents) stored.add(`g\u0000${event.gateway}\u0000${event.eventId}`);
      for (const entry of newEntries) stored.add(`b\u0000${entry.bank}\u0000${entry.entryId}`);
      for (const statement of newStatements) stored.add(`s\u0000${statement.bank}\u0000${statement.statementId}`);
      for (const id of stripe.newPayoutIds) stored.add(`sp\u0000${id}`);
      for (const id of stripe.newTransactionIds) stored.add(`st\u0000${id}`);
      return {
        fresh: { stored, freshRejections: new Set(freshRejections) },
        effects: reconcileEffects,
        conflicts,
        inputConflicts,
        statementChecks,
        rejectedItems,
      };
    },
  );

  // Per-line outcome: the first occurrence of a new fact is accepted, any other a duplicate.
  const seen = new Set<string>();
  const lines: IngestResult["lines"] = decoded.map((item) => {
    if (!item.ok) return { status: "rejected", reason: item.reason, detail: item.detail };
    const conflict = conflicts.get(item);
    if (conflict) return { status: "rejected", reason: conflict.reason, detail: conflict.detail };
    const keys = factKeys(item);
    if (keys.length === 0) return { status: "ignored" };
    const isNew = keys.some((key) => !seen.has(key) && fresh.stored.has(key));
    for (const key of keys) seen.add(key);
    return { status: isNew ? "accepted" : "duplicate" };
  });

  effects.afterCommit();
  deps.afterCommit?.();
  for (const [index, item] of decoded.entries()) {
    // A conflict is counted as rejected below, with the messages rejected in part.
    if (!item.ok) deps.metrics.eventsRejected.inc({ topic: item.raw.topic, reason: item.reason });
    else if (!conflicts.has(item)) deps.metrics.eventsIngested.inc({ topic: item.raw.topic });
    if (lines[index]!.status === "duplicate") deps.metrics.eventsDuplicate.inc({ topic: item.raw.topic });
    if (item.ok && item.kind === "native") {
      for (const { type } of item.facts.ignored) countIgnoredGatewayEvent(deps.metrics, item.gateway, type);
    }
  }
  for (const item of [...partlyRejected, ...conflicts.values()]) {
    deps.metrics.eventsRejected.inc({ topic: item.raw.topic, reason: item.reason });
  }
  for (const check of statementChecks) {
    deps.metrics.statementChecks.inc({ bank: deps.metrics.labels.bank(check.bank), result: check.result });
  }
  for (const conflict of inputConflicts) {
    deps.metrics.inputConflicts.inc({ topic: conflict.topic });
    if (conflict.subject.type === "gateway_event") {
      deps.metrics.gatewayEventConflicts.inc({ gateway: deps.metrics.labels.gateway(conflict.subject.gateway) });
    }
  }
  const truncated = rejectedItems.filter((item) => (item.raw.value?.length ?? 0) > maxBytes).length;
  if (truncated > 0) deps.metrics.rejectedMessagesPruned.inc({ reason: "truncated" }, truncated);
  if (deps.deadLetterToKafka) {
    for (const index of fresh.freshRejections) {
      const item = rejectedItems[index]!;
      deps.metrics.deadLetters.inc({ topic: item.raw.topic, reason: item.reason });
    }
  }
  for (const row of freshness) observeEventTime(deps.metrics, row.topic, row.source, Date.parse(row.lastEvent) / 1000);
  return {
    lines,
    accepted: lines.filter((line) => line.status === "accepted").length,
    duplicates: lines.filter((line) => line.status === "duplicate").length,
    rejected: lines.filter((line) => line.status === "rejected").length,
  };
}
