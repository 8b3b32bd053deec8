import { pushTo } from "../grouping.js";
import type pg from "pg";
import type { ReconcileEffects } from "../consumers/ingest.js";
import {
  amountCandidates,
  type BatchRef,
  batchesNamedByTokens,
  entriesOfBatches,
  entriesToRematch,
  loadBatches,
  loadEntries,
  loadMatches,
  sameMatch,
  saveBatchStates,
  saveMatches,
  referencesSettlingByReference,
  targetsByReference,
  upsertBatchesFromEvents,
} from "../db/queries/matching.js";
import { decisionsOfEntries, decisionsOfPayments } from "../db/queries/manualDecisions.js";
import { foldDecisions } from "../reconcile/manualDecisions.js";
import { advanceReconcileClock } from "../db/queries/reconcileClock.js";
import { journalTouched } from "../db/queries/reconcileJournal.js";
import {
  applyTotals,
  claimOrphans,
  expireOrphans,
  insertStatusChanges,
  loadBatchViews,
  loadEventsByReference,
  loadMatchedEntries,
  loadStoredPayments,
  loadVersions,
  outcomeSignature,
  identityHash,
  insertPayments,
  installmentRows,
  paymentIdsByReference,
  paymentIdsRelated,
  recordOrphanEvents,
  replaceInstallments,
  type StatusChangeRow,
  type StoredPayment,
  saveIdentities,
  savePayments,
  type TotalsDelta,
} from "../db/queries/paymentState.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { settleBatch } from "../reconcile/batchSettlement.js";
import { syncExceptions } from "./exceptionSync.js";
import type { DesiredException } from "../reconcile/exceptions.js";
import { effectiveExpected } from "../reconcile/expectedVersions.js";
import { exceptionFindingFields, statusChangeDetail, statusChangeFindingFields } from "./findings.js";
import {
  type EntryMatch,
  type MatchTarget,
  matchEntry,
  type PaymentTarget,
  settlingDirection,
} from "../reconcile/matching.js";
import { type PaymentOutcome, reconcilePayment } from "../reconcile/paymentStatus.js";
import { referenceKey } from "../reconcile/references.js";
import { batchKey, parseBatchKey, type TouchedFacts } from "../reconcile/touched.js";
import type { ExpectedPayment } from "../messages/schemas.js";
import type { BankFact, ExpectedVersion, PaymentStatus, Policy } from "../reconcile/types.js";
import { toleranceFor } from "../reconcile/types.js";
import {
  batchExceptions,
  entryExceptions,
  paymentExceptions,
  paymentTarget,
  unmatchedEvent,
} from "../reconcile/world.js";

/**
 * Incremental reconciliation inside the transaction that stored new facts:
 * re-match the bank entries the facts could affect, re-evaluate the batches
 * and payments whose inputs changed, and write statuses, exceptions and
 * findings — all-or-nothing with the facts. It must always agree with
 * reconcileWorld over all stored facts (tested).
 *
 * Instances serialize this phase on one advisory lock: facts are written in
 * parallel, but each reconciliation sees every fact committed before it, so
 * two instances give exactly the results of one. Its time is read after the
 * lock is taken and never precedes the previous reconciliation's.
 */

export interface ReconcileDeps {
  policy: Policy;
  metrics: Metrics;
  log: Logger;
  /** Where findings go; undefined when Kafka is not configured. */
  findingsTopic: string | undefined;
  /** Called once per unknown failure code (the caller dedupes). */
  onUnknownFailureCode?: (code: string, gateway: string) => void;
}

export const RECONCILE_LOCK = 7_248_263_012;

function batchRefKey(ref: BatchRef): string {
  return batchKey(ref.gateway, ref.batchId);
}

function add<T>(set: Set<T>, items: Iterable<T>): void {
  for (const item of items) set.add(item);
}

export interface PaymentChange {
  outcome: PaymentOutcome;
  previous: StoredPayment | undefined;
}

export async function reconcileTouched(
  tx: pg.PoolClient,
  touched: TouchedFacts,
  clock: () => Date,
  deps: ReconcileDeps,
): Promise<ReconcileEffects> {
  const began = performance.now();
  const { policy } = deps;
  await tx.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);
  const locked = performance.now();
  // The time is read only now, holding the lock: a transaction that waited for it reconciles after the one
  // it waited for, so its findings must not carry an earlier time.
  const now = await advanceReconcileClock(tx, clock());
  const nowMs = now.getTime();
  await journalTouched(tx, now, touched);

  // New entries first: their tokens (computed from the stored body exactly as on insert) name batches and payments.
  const newEntries = await loadEntries(tx, [...touched.entrySeqs]);
  const newTokens = [...new Set(newEntries.flatMap((entry) => entry.tokens))];

  // Batches: new batch events become settlement_batches rows; entries naming a batch touch it.
  await upsertBatchesFromEvents(tx, [...touched.gatewayEventSeqs]);
  const batchKeys = new Set([...touched.batchKeys]);
  add(batchKeys, (await batchesNamedByTokens(tx, newTokens)).map(batchRefKey));

  // Payments touched directly: new versions, events naming them, batches listing them, entries naming them.
  const directPayments = new Set(touched.paymentIds);
  add(directPayments, await paymentIdsByReference(tx, [...touched.referenceKeys]));
  add(directPayments, await paymentIdsRelated(tx, { batches: [...batchKeys].map(parseBatchKey), tokens: newTokens }));
  const versions = await loadVersions(tx, [...directPayments]);
  const stored = await loadStoredPayments(tx, [...directPayments]);
  const identities = [...directPayments].flatMap((id) => {
    const effective = effectiveExpected(versions.get(id) ?? []);
    return effective ? [{ id, payment: effective.payment, cancelled: effective.cancelled }] : [];
  });
  // A payment touched only by an event or a bank line keeps its identity: no rewrite of its row and installments.
  // Changed identities are written once, with their status, after matching: until then matching sees them in
  // memory (pending), in place of their stored row, exactly as reconcileWorld builds its targets.
  const changedIdentities = identities.filter(
    (identity) => stored.get(identity.id)?.identityHash !== identityHash(identity.payment, identity.cancelled),
  );
  const pending = new Map(changedIdentities.map((identity) => [identity.id, identity]));
  const refKeys = new Set(identities.map((identity) => referenceKey(identity.payment.reference)));
  for (const id of directPayments) {
    const old = stored.get(id);
    if (old) refKeys.add(old.referenceKey);
  }

  // Matching: every entry whose match these changes could move.
  const entrySeqs = new Set([...touched.entrySeqs, ...touched.recheckEntrySeqs]);
  add(
    entrySeqs,
    await entriesToRematch(tx, {
      paymentIds: [...directPayments],
      referenceKeys: [...refKeys],
      batches: [...batchKeys].map(parseBatchKey),
      windowMs: policy.matchWindowMs,
      storedInstallmentsOf: [...directPayments].filter((id) => !pending.has(id)),
      installments: changedIdentities.flatMap((identity) =>
        installmentRows(identity.id, identity.payment).map((row) => ({
          currency: row.currency,
          direction: row.direction,
          amountMinor: row.amount,
          dueDate: row.due,
        })),
      ),
    }),
  );
  const loaded = new Set(newEntries.map((entry) => entry.seq));
  const entries = [
    ...newEntries,
    ...(await loadEntries(
      tx,
      [...entrySeqs].filter((seq) => !loaded.has(seq)),
    )),
  ];
  const matches = await matchEntries(tx, entries, policy, pending);
  const oldMatches = await loadMatches(tx, [...entrySeqs]);
  const affectedPayments = new Set(directPayments);
  const matchRows: Array<{ entrySeq: number; match: EntryMatch; unmatchedDeadline: number | null }> = [];
  for (const entry of entries) {
    const match = matches.get(entry.seq)!;
    const deadline = entry.receivedAt + policy.unmatchedGraceMs;
    const unmatchedDeadline = match.kind === "none" && nowMs < deadline ? deadline : null;
    const old = oldMatches.get(entry.seq);
    if (old && sameMatch(old.match, match) && old.unmatchedDeadline === unmatchedDeadline) continue;
    matchRows.push({ entrySeq: entry.seq, match, unmatchedDeadline });
    for (const side of [old?.match, match]) {
      if (side?.kind === "payment") affectedPayments.add(side.paymentId);
      if (side?.kind === "batch") batchKeys.add(side.batchKey);
    }
  }
  await saveMatches(tx, matchRows, now);

  // Batches: settled only when the bank shows the net.
  const batchRefs = [...batchKeys].map(parseBatchKey);
  const batches = await loadBatches(tx, batchRefs);
  const batchEntries = await entriesOfBatches(tx, batchRefs);
  const desired = new Map<string, DesiredException[]>();
  const changedBatches: BatchRef[] = [];
  const batchStates = batches.map((batch) => {
    const key = batchRefKey(batch);
    const state = settleBatch(batch, batchEntries.get(key) ?? [], toleranceFor(policy, batch.gateway));
    desired.set(`batch:${batch.gateway}/${batch.batchId}`, batchExceptions(batch, state, policy));
    return { batch, state };
  });
  const storedBatchStates = new Map(batches.map((batch) => [batchRefKey(batch), batch.storedState]));
  for (const { batch, state } of batchStates) {
    if (storedBatchStates.get(batchRefKey(batch)) !== state.state) changedBatches.push(batch);
  }
  await saveBatchStates(
    tx,
    batchStates.map(({ batch, state }) => ({
      gateway: batch.gateway,
      batchId: batch.batchId,
      state: state.state,
      settledOn: state.state === "settled" ? state.settledOn : null,
      differenceMinor: state.state === "mismatch" ? state.differenceMinor : null,
    })),
  );
  // A batch listing a payment changes its status only when the batch's own state changes
  // (new batches are reached through their references above).
  add(affectedPayments, await paymentIdsRelated(tx, { batches: changedBatches, tokens: [] }));

  // Status of every affected payment.
  const laterIds = [...affectedPayments].filter((id) => !directPayments.has(id));
  for (const [id, list] of await loadVersions(tx, laterIds)) versions.set(id, list);
  for (const [id, row] of await loadStoredPayments(tx, laterIds)) stored.set(id, row);
  const changes = await evaluatePayments(tx, [...affectedPayments], versions, stored, nowMs, policy);
  for (const { outcome } of changes.all) desired.set(`payment:${outcome.paymentId}`, paymentExceptions(outcome));
  for (const entry of entries) {
    desired.set(`entry:${entry.bank}/${entry.entryId}`, entryExceptions(entry, matches.get(entry.seq)!, nowMs, policy));
  }

  // Payment rows: each written once, identity and status together (the orphan checks below read them).
  const written = await writePaymentRows(tx, changes, changedIdentities, stored, now);

  // Gateway events naming no payment wait for one until UNMATCHED_GRACE; a new payment claims them.
  const claimed = await claimOrphans(
    tx,
    changedIdentities.map((identity) => identity.id),
  );
  for (const event of claimed) desired.set(`event:${event.gateway}/${event.eventId}`, []);
  await recordOrphanEvents(tx, [...touched.gatewayEventSeqs], policy.unmatchedGraceMs);
  for (const event of await expireOrphans(tx, [...touched.dueOrphanSeqs], now)) {
    const exception = unmatchedEvent(event, false, nowMs, policy);
    desired.set(`event:${event.gateway}/${event.eventId}`, exception ? [exception] : []);
  }

  await syncExceptions(tx, desired, now, policy.priorityTiers, policy.priorityScale, exceptionFindings(deps));
  const statusChanges = await recordStatusChanges(tx, written, now, deps);
  const reconcileMs = performance.now() - began;
  return {
    afterCommit() {
      deps.metrics.reconcileDuration.observe(reconcileMs / 1000);
      // Held until the commit just made.
      deps.metrics.reconcileLockHeld.observe((performance.now() - locked) / 1000);
      recordStatusMetrics(deps, statusChanges, nowMs);
    },
  };
}

const amountKey = (currency: string, direction: string, amountMinor: number) =>
  `${currency}\u0000${direction}\u0000${amountMinor}`;

interface PendingIdentity {
  id: string;
  payment: ExpectedPayment;
  cancelled: boolean;
}

/**
 * Matches entries against the stored payments and batches (the SQL pre-selects, matchEntry decides).
 * `pending`: payments whose identity changes in this transaction, not written yet; they stand in for
 * their stored rows, as targets built exactly as reconcileWorld builds them.
 */
async function matchEntries(
  tx: pg.PoolClient,
  entries: BankFact[],
  policy: Policy,
  pending: Map<string, PendingIdentity>,
): Promise<Map<number, EntryMatch>> {
  const keys = new Set<string>();
  for (const entry of entries) {
    add(keys, entry.tokens);
    if (entry.endToEndId) keys.add(referenceKey(entry.endToEndId));
  }
  const pendingIds = [...pending.keys()];
  // Booked and pending lines match by amount (pending ones tentatively); returns only by reference.
  const booked = entries.filter((entry) => entry.status !== "returned");
  const [targets, candidates] = [
    await targetsByReference(tx, [...keys], pendingIds),
    await amountCandidates(
      tx,
      booked.map((entry) => entry.seq),
      policy.matchWindowMs,
      pendingIds,
    ),
  ];
  // Pending payments by the amounts they could be settled with (whole, or one installment): a superset,
  // matchEntry applies every amount condition itself, as it does to the SQL's pre-selection.
  const pendingByAmount = new Map<string, PendingIdentity[]>();
  for (const identity of pending.values()) {
    const { payment } = identity;
    const direction = settlingDirection(payment.direction);
    const amounts = new Set([payment.amount_minor, ...(payment.installments ?? []).map((part) => part.amount_minor)]);
    for (const amount of amounts) pushTo(pendingByAmount, amountKey(payment.currency, direction, amount), identity);
  }
  const pendingCandidates = (entry: BankFact) => [
    ...(pendingByAmount.get(amountKey(entry.currency, entry.direction, entry.amountMinor)) ?? []),
    // By the instructed amount in its currency (CONTRACT §8 "FX").
    ...(entry.instructedCurrency && entry.instructedAmountMinor && entry.instructedCurrency !== entry.currency
      ? (pendingByAmount.get(amountKey(entry.instructedCurrency, entry.direction, entry.instructedAmountMinor)) ?? [])
      : []),
  ];
  // Whether a payment settles by reference matters only to amount matching: asked only for the pending
  // payments some entry here could match by amount.
  const asked = new Set(booked.flatMap((entry) => pendingCandidates(entry).map((identity) => identity.id)));
  const settledByReference = await referencesSettlingByReference(
    tx,
    [...asked].map((id) => referenceKey(pending.get(id)!.payment.reference)),
  );
  const pendingTargets = new Map<string, PaymentTarget>();
  for (const identity of pending.values()) {
    const settles = asked.has(identity.id) && settledByReference.has(referenceKey(identity.payment.reference));
    pendingTargets.set(identity.id, paymentTarget(identity.id, identity.payment, identity.cancelled, settles));
  }
  const byKey = new Map<string, MatchTarget[]>();
  for (const target of targets) {
    const key = target.kind === "payment" ? target.referenceKey : target.batchIdKey;
    pushTo(byKey, key, target);
  }
  for (const target of pendingTargets.values()) {
    if (keys.has(target.referenceKey)) pushTo(byKey, target.referenceKey, target);
  }
  const lookup = {
    byReference: (key: string) => byKey.get(key) ?? [],
    amountCandidates: (entry: BankFact) => [
      ...(candidates.get(entry.seq) ?? []),
      ...pendingCandidates(entry).map((identity) => pendingTargets.get(identity.id)!),
    ],
  };
  // Operators' decisions on these entries (CONTRACT §7): a manual match wins, an unmatch forbids the pairing.
  const decisions = await decisionsOfEntries(tx, entries);
  return new Map(
    entries.map((entry) => [
      entry.seq,
      matchEntry(entry, lookup, policy, foldDecisions(decisions.get(`${entry.bank}/${entry.entryId}`))),
    ]),
  );
}

async function evaluatePayments(
  tx: pg.PoolClient,
  ids: string[],
  versions: Map<string, ExpectedVersion[]>,
  stored: Map<string, StoredPayment>,
  nowMs: number,
  policy: Policy,
): Promise<{ all: PaymentChange[]; changed: PaymentChange[] }> {
  const refs = new Map<string, { key: string; gateway: string }>();
  for (const id of ids) {
    const effective = effectiveExpected(versions.get(id) ?? []);
    if (effective) refs.set(id, { key: referenceKey(effective.payment.reference), gateway: effective.payment.gateway });
  }
  const refKeys = [...new Set([...refs.values()].map((ref) => ref.key))];
  const [events, entries, views, decisions] = [
    await loadEventsByReference(tx, refKeys),
    await loadMatchedEntries(tx, [...refs.keys()]),
    await loadBatchViews(tx, refKeys),
    await decisionsOfPayments(tx, [...refs.keys()]),
  ];
  const all: PaymentChange[] = [];
  for (const [id, ref] of refs) {
    const outcome = reconcilePayment(
      {
        paymentId: id,
        versions: versions.get(id) ?? [],
        events: events.get(ref.key) ?? [],
        entries: entries.get(id) ?? [],
        // A batch settles only payments of its own gateway.
        batches: (views.get(ref.key) ?? []).filter((view) => view.batch.gateway === ref.gateway),
        decisions: decisions.get(id),
      },
      nowMs,
      policy,
    );
    if (outcome) all.push({ outcome, previous: stored.get(id) });
  }
  const changed = all.filter(({ outcome, previous }) => previous?.signature !== outcomeSignature(outcome));
  return { all, changed };
}

export interface StatusChange {
  outcome: PaymentOutcome;
  from: PaymentStatus | null;
}

export interface WrittenPayments {
  statusRows: StatusChangeRow[];
  statusChanges: StatusChange[];
  totals: TotalsDelta[];
}

/**
 * Writes the payment rows: a new payment is inserted once with its status; an amended one gets its
 * identity, then (if its outcome changed) its status; any other changed outcome its status only.
 */
export async function writePaymentRows(
  tx: pg.PoolClient,
  changes: { all: PaymentChange[]; changed: PaymentChange[] },
  changedIdentities: Array<{ id: string; payment: ExpectedPayment; cancelled: boolean }>,
  stored: Map<string, StoredPayment>,
  now: Date,
): Promise<WrittenPayments> {
  const statusSince = new Map<string, Date>();
  const statusRows: StatusChangeRow[] = [];
  const statusChanges: StatusChange[] = [];
  const totals = new Map<string, TotalsDelta>();
  const delta = (
    status: string,
    direction: string,
    gateway: string,
    currency: string,
    count: number,
    atRisk: number,
  ) => {
    const key = [status, direction, gateway, currency].join("\u0000");
    const current = totals.get(key) ?? { status, direction, gateway, currency, count: 0, atRiskMinor: 0 };
    current.count += count;
    current.atRiskMinor += atRisk;
    totals.set(key, current);
  };
  for (const { outcome, previous } of changes.changed) {
    const payment = outcome.payment;
    if (previous?.signature) {
      delta(previous.status, previous.direction, previous.gateway, previous.currency, -1, -previous.atRiskMinor);
    }
    delta(outcome.status, payment.direction, payment.gateway, payment.currency, 1, outcome.exception?.amountMinor ?? 0);
    const from = previous?.signature ? previous.status : null;
    if (from !== outcome.status) {
      statusSince.set(outcome.paymentId, now);
      statusRows.push({
        paymentId: outcome.paymentId,
        fromStatus: from,
        toStatus: outcome.status,
        reason: outcome.reason,
        detail: { ...statusChangeDetail(outcome) },
        finding: statusChangeFindingFields(outcome),
      });
      statusChanges.push({ outcome, from });
    }
  }

  const outcomes = new Map(changes.all.map((change) => [change.outcome.paymentId, change.outcome]));
  const created = changedIdentities.filter((identity) => !stored.has(identity.id));
  const amended = changedIdentities.filter((identity) => stored.has(identity.id));
  await insertPayments(
    tx,
    created.map((identity) => {
      const outcome = outcomes.get(identity.id);
      // Every payment with a version in force has an outcome (evaluatePayments saw all direct payments).
      if (!outcome) throw new Error(`no outcome for new payment ${identity.id}`);
      return { outcome, cancelled: identity.cancelled };
    }),
    statusSince,
    now,
  );
  await saveIdentities(tx, amended, now);
  const createdIds = new Set(created.map((identity) => identity.id));
  await savePayments(
    tx,
    changes.changed.map((change) => change.outcome).filter((outcome) => !createdIds.has(outcome.paymentId)),
    statusSince,
    now,
  );
  await replaceInstallments(
    tx,
    changedIdentities,
    amended.map((identity) => identity.id),
  );
  return { statusRows, statusChanges, totals: [...totals.values()] };
}

/**
 * The status changes' timeline rows and the totals' deltas. A status change's row is its finding too (issue 15):
 * with findings published it keeps what the finding says beyond the row, and the findings publisher
 * (src/kafka/findingsPublisher.ts) sends it from the committed row; no message is written.
 */
export async function recordStatusChanges(
  tx: pg.PoolClient,
  written: WrittenPayments,
  now: Date,
  deps: ReconcileDeps,
): Promise<StatusChange[]> {
  await insertStatusRows(tx, written, now, deps);
  await applyTotals(tx, written.totals);
  return written.statusChanges;
}

/** The status changes' timeline rows alone (the memory engine writes some before it holds the lock, totals after). */
export async function insertStatusRows(
  tx: pg.PoolClient,
  written: WrittenPayments,
  now: Date,
  deps: ReconcileDeps,
): Promise<void> {
  const rows = deps.findingsTopic ? written.statusRows : written.statusRows.map((row) => ({ ...row, finding: null }));
  await insertStatusChanges(tx, rows, now);
}

/** What an exception change's audit row keeps for its finding, when findings are published (syncExceptions). */
export function exceptionFindings(deps: ReconcileDeps): typeof exceptionFindingFields | undefined {
  return deps.findingsTopic ? exceptionFindingFields : undefined;
}

const OUTCOMES = new Set<PaymentStatus>(["settled", "failed", "refunded", "charged_back", "cancelled"]);

export function recordStatusMetrics(deps: ReconcileDeps, changes: StatusChange[], nowMs: number): void {
  const { metrics } = deps;
  for (const { outcome } of changes) {
    const { direction } = outcome.payment;
    const gateway = metrics.labels.gateway(outcome.payment.gateway);
    metrics.statusChanges.inc({ gateway, direction, status: outcome.status });
    if (OUTCOMES.has(outcome.status)) metrics.paymentOutcomes.inc({ gateway, direction, outcome: outcome.status });
    if (outcome.status === "failed" && direction === "payout") {
      metrics.payoutFailures.inc({ gateway, failure_category: outcome.failureCategory ?? "unknown" });
    }
    if (outcome.status === "failed" && !outcome.failureCodeKnown && outcome.failureCode) {
      deps.onUnknownFailureCode?.(outcome.failureCode, outcome.payment.gateway);
      metrics.unknownFailureCodes.inc({ gateway });
    }
    if (outcome.status === "settled" && outcome.acceptedAt !== null) {
      metrics.settlementDuration.observe({ gateway, direction }, Math.max(0, nowMs - outcome.acceptedAt) / 1000);
    }
  }
}
