import { pushTo } from "../grouping.js";
import type pg from "pg";
import type { ReconcileEffects } from "../consumers/ingest.js";
import {
  amountCandidates,
  type BatchRef,
  batchesNamedByEntries,
  entriesOfBatches,
  entriesToRematch,
  loadBatches,
  loadEntries,
  loadMatches,
  sameMatch,
  saveBatchStates,
  saveMatches,
  targetsByReference,
  upsertBatchesFromEvents,
} from "../db/queries/matching.js";
import { enqueueOutbox, type OutboxMessage } from "../db/queries/outbox.js";
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
  paymentIdsByReference,
  paymentIdsRelated,
  recordOrphanEvents,
  type StatusChangeRow,
  type StoredPayment,
  saveIdentities,
  savePayments,
  type TotalsDelta,
} from "../db/queries/paymentState.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { settleBatch } from "./batchSettlement.js";
import { type ExceptionChange, syncExceptions } from "./exceptionStore.js";
import type { DesiredException } from "./exceptions.js";
import { effectiveExpected } from "./expectedVersions.js";
import { exceptionFinding, type Finding, paymentFinding } from "./findings.js";
import { type EntryMatch, type MatchTarget, matchEntry } from "./matching.js";
import { type PaymentOutcome, reconcilePayment } from "./paymentStatus.js";
import { referenceKey } from "./references.js";
import { batchKey, parseBatchKey, type TouchedFacts } from "./touched.js";
import type { BankFact, ExpectedVersion, PaymentStatus, Policy } from "./types.js";
import { toleranceFor } from "./types.js";
import { batchExceptions, entryExceptions, paymentExceptions, unmatchedEvent } from "./world.js";

/**
 * Incremental reconciliation inside the transaction that stored new facts:
 * re-match the bank entries the facts could affect, re-evaluate the batches
 * and payments whose inputs changed, and write statuses, exceptions and
 * findings — all-or-nothing with the facts. It must always agree with
 * reconcileWorld over all stored facts (tested).
 *
 * Instances serialize this phase on one advisory lock: facts are written in
 * parallel, but each reconciliation sees every fact committed before it, so
 * two instances give exactly the results of one.
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

const RECONCILE_LOCK = 7_248_263_012;

function batchRefKey(ref: BatchRef): string {
  return batchKey(ref.gateway, ref.batchId);
}

function add<T>(set: Set<T>, items: Iterable<T>): void {
  for (const item of items) set.add(item);
}

interface PaymentChange {
  outcome: PaymentOutcome;
  previous: StoredPayment | undefined;
}

export async function reconcileTouched(
  tx: pg.PoolClient,
  touched: TouchedFacts,
  now: Date,
  deps: ReconcileDeps,
): Promise<ReconcileEffects> {
  const began = performance.now();
  const { policy } = deps;
  const nowMs = now.getTime();
  await tx.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);

  // Batches: new batch events become settlement_batches rows; entries naming a batch touch it.
  await upsertBatchesFromEvents(tx, [...touched.gatewayEventSeqs]);
  const batchKeys = new Set([...touched.batchKeys]);
  add(batchKeys, (await batchesNamedByEntries(tx, [...touched.entrySeqs])).map(batchRefKey));

  // Payments touched directly: new versions, events naming them, batches listing them, entries naming them.
  const directPayments = new Set(touched.paymentIds);
  add(directPayments, await paymentIdsByReference(tx, [...touched.referenceKeys]));
  add(
    directPayments,
    await paymentIdsRelated(tx, { batches: [...batchKeys].map(parseBatchKey), entrySeqs: [...touched.entrySeqs] }),
  );
  const versions = await loadVersions(tx, [...directPayments]);
  const stored = await loadStoredPayments(tx, [...directPayments]);
  const identities = [...directPayments].flatMap((id) => {
    const effective = effectiveExpected(versions.get(id) ?? []);
    return effective ? [{ id, payment: effective.payment, cancelled: effective.cancelled }] : [];
  });
  // A payment touched only by an event or a bank line keeps its identity: no rewrite of its row and installments.
  const changedIdentities = identities.filter(
    (identity) => stored.get(identity.id)?.identityHash !== identityHash(identity.payment, identity.cancelled),
  );
  await saveIdentities(tx, changedIdentities, now);
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
    }),
  );
  const entries = await loadEntries(tx, [...entrySeqs]);
  const matches = await matchEntries(tx, entries, policy);
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
    desired.set(`batch:${batch.gateway}/${batch.batchId}`, batchExceptions(batch, state));
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
  add(affectedPayments, await paymentIdsRelated(tx, { batches: changedBatches, entrySeqs: [] }));

  // Status of every affected payment.
  const laterIds = [...affectedPayments].filter((id) => !directPayments.has(id));
  for (const [id, list] of await loadVersions(tx, laterIds)) versions.set(id, list);
  for (const [id, row] of await loadStoredPayments(tx, laterIds)) stored.set(id, row);
  const changes = await evaluatePayments(tx, [...affectedPayments], versions, stored, nowMs, policy);
  for (const { outcome } of changes.all) desired.set(`payment:${outcome.paymentId}`, paymentExceptions(outcome));
  for (const entry of entries) {
    desired.set(`entry:${entry.bank}/${entry.entryId}`, entryExceptions(entry, matches.get(entry.seq)!, nowMs, policy));
  }

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

  const exceptionChanges = await syncExceptions(tx, desired, now, policy.priorityTiers);
  const statusChanges = await writePayments(tx, changes.changed, now, deps, exceptionChanges);
  const reconcileMs = performance.now() - began;
  return {
    afterCommit() {
      deps.metrics.reconcileDuration.observe(reconcileMs / 1000);
      recordStatusMetrics(deps, statusChanges, nowMs);
    },
  };
}

/** Matches entries against the stored payments and batches (the SQL pre-selects, matchEntry decides). */
async function matchEntries(tx: pg.PoolClient, entries: BankFact[], policy: Policy): Promise<Map<number, EntryMatch>> {
  const keys = new Set<string>();
  for (const entry of entries) {
    add(keys, entry.tokens);
    if (entry.endToEndId) keys.add(referenceKey(entry.endToEndId));
  }
  const [targets, candidates] = [
    await targetsByReference(tx, [...keys]),
    await amountCandidates(
      tx,
      entries.filter((entry) => entry.status === "booked").map((entry) => entry.seq),
      policy.matchWindowMs,
    ),
  ];
  const byKey = new Map<string, MatchTarget[]>();
  for (const target of targets) {
    const key = target.kind === "payment" ? target.referenceKey : target.batchIdKey;
    pushTo(byKey, key, target);
  }
  const lookup = {
    byReference: (key: string) => byKey.get(key) ?? [],
    amountCandidates: (entry: BankFact) => candidates.get(entry.seq) ?? [],
  };
  return new Map(entries.map((entry) => [entry.seq, matchEntry(entry, lookup, policy)]));
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
  const [events, entries, views] = [
    await loadEventsByReference(tx, refKeys),
    await loadMatchedEntries(tx, [...refs.keys()]),
    await loadBatchViews(tx, refKeys),
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
      },
      nowMs,
      policy,
    );
    if (outcome) all.push({ outcome, previous: stored.get(id) });
  }
  const changed = all.filter(({ outcome, previous }) => previous?.signature !== outcomeSignature(outcome));
  return { all, changed };
}

interface StatusChange {
  outcome: PaymentOutcome;
  from: PaymentStatus | null;
}

async function writePayments(
  tx: pg.PoolClient,
  changes: PaymentChange[],
  now: Date,
  deps: ReconcileDeps,
  exceptionChanges: ExceptionChange[],
): Promise<StatusChange[]> {
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
  const findings: Finding[] = [];
  for (const { outcome, previous } of changes) {
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
        detail: {
          failure_category: outcome.failureCategory,
          failure_code: outcome.failureCode,
          settled_amount_minor: outcome.settledAmountMinor,
          settled_late: outcome.settledLate,
        },
      });
      statusChanges.push({ outcome, from });
      findings.push(paymentFinding(outcome, from, now));
    }
  }
  await savePayments(
    tx,
    changes.map((change) => change.outcome),
    statusSince,
    now,
  );
  await insertStatusChanges(tx, statusRows, now);
  await applyTotals(tx, [...totals.values()]);
  for (const change of exceptionChanges) {
    const finding = exceptionFinding(change, now);
    if (finding) findings.push(finding);
  }
  if (deps.findingsTopic) {
    const topic = deps.findingsTopic;
    await enqueueOutbox(
      tx,
      findings.map(
        (finding): OutboxMessage => ({ topic, key: finding.key, value: JSON.stringify(finding.value), headers: {} }),
      ),
    );
  }
  return statusChanges;
}

const OUTCOMES = new Set<PaymentStatus>(["settled", "failed", "refunded", "charged_back", "cancelled"]);

function recordStatusMetrics(deps: ReconcileDeps, changes: StatusChange[], nowMs: number): void {
  const { metrics } = deps;
  for (const { outcome } of changes) {
    const { gateway, direction } = outcome.payment;
    metrics.statusChanges.inc({ gateway, direction, status: outcome.status });
    if (OUTCOMES.has(outcome.status)) metrics.paymentOutcomes.inc({ gateway, direction, outcome: outcome.status });
    if (outcome.status === "failed" && direction === "payout") {
      metrics.payoutFailures.inc({ gateway, failure_category: outcome.failureCategory ?? "unknown" });
    }
    if (outcome.status === "failed" && !outcome.failureCodeKnown && outcome.failureCode) {
      deps.onUnknownFailureCode?.(outcome.failureCode, gateway);
      metrics.unknownFailureCodes.inc({ gateway });
    }
    if (outcome.status === "settled" && outcome.acceptedAt !== null) {
      metrics.settlementDuration.observe({ gateway, direction }, Math.max(0, nowMs - outcome.acceptedAt) / 1000);
    }
  }
}
