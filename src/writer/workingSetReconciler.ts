import type pg from "pg";
import type { FactReconciler, ReconcileEffects } from "../consumers/ingest.js";
import {
  loadMatches,
  sameMatch,
  saveBatchStates,
  saveMatches,
  upsertBatchesFromEvents,
} from "../db/queries/matching.js";
import { advanceReconcileClock, reconcileClock, storedReconcileClock } from "../db/queries/reconcileClock.js";
import { identityHash, loadStoredPayments, outcomeSignature } from "../db/queries/paymentState.js";
import { loadTouchedFacts, loadWorldFacts, readWorldFacts } from "../db/queries/worldFacts.js";
import { finalSinceStored, loadEvictedGroups } from "../db/queries/evictedGroups.js";
import type { WorldFacts } from "../reconcile/world.js";
import type { DesiredException } from "../reconcile/exceptions.js";
import { emptyTouched, parseBatchKey, type TouchedFacts } from "../reconcile/touched.js";
import { journalTouched, touchedSince } from "../db/queries/reconcileJournal.js";
import { onTransactionEnd, withTransaction } from "../db/transaction.js";
import { FINAL_STATUSES, type Reevaluated, WorkingSet } from "../reconcile/workingSet.js";
import { syncExceptions } from "./exceptionSync.js";
import {
  exceptionFindings,
  type PaymentChange,
  RECONCILE_LOCK,
  type ReconcileDeps,
  recordStatusChanges,
  recordStatusMetrics,
  writePaymentRows,
} from "./reconcileTouched.js";

/**
 * Engine v2, step 3 (docs/architecture.md §4): the writer keeps every fact in a WorkingSet in memory and
 * asks PostgreSQL nothing to find what new facts touch or to rebuild the payments they touch; it reads
 * only the rows it is about to overwrite (to write what changed, once) and the facts just stored.
 *
 * The working set must hold exactly the committed facts. Reconciliations run one at a time in this
 * process, each until its transaction ends; a transaction that does not commit leaves the working set
 * ahead of the database, so it is dropped and loaded again, inside the next transaction. Every writer
 * (this engine, the sql engine, `payrecon import`) advances the reconcile clock under the reconciliation
 * lock, in commit order: when the clock is not where this engine left it, another process stored facts
 * since, and the working set is loaded again. Correct with any number of writers; fast with one.
 */
export class WorkingSetReconciler {
  private workingSet: WorkingSet | undefined;
  /** Why the working set is not in memory: not loaded yet, or dropped with a transaction that did not commit. */
  private dropped: "start" | "rolled_back" = "start";
  /** The reconcile clock this engine's last committed transaction left. */
  private clockLeft: number | undefined;
  private turn: Promise<void> = Promise.resolve();
  /** How long the load in the running transaction took, for its log line. */
  private loadTimes: { readMs: number; applyMs: number } | undefined;
  /** Keys `loadNow` loaded that are not compared with their stored rows yet. */
  private unverified: { payments: string[]; entries: string[]; batches: string[]; events: string[] } | undefined;
  private everLoaded = false;

  constructor(
    private readonly deps: ReconcileDeps,
    /** WORKING_SET_EVICT_AFTER; absent, nothing leaves memory. */
    private readonly eviction: { evictAfterMs?: number } = {},
  ) {}

  /**
   * Loads the working set whole now (at start, before the daemon says ready; or when a standby takes over), afresh
   * even if loaded. It reads the facts and the reconcile clock under the reconciliation lock (no writer commits
   * meanwhile) and evaluates them at that clock, the moment the stored rows describe; the next reconciliation applies
   * the time since. It writes nothing: the stored rows are compared with it afterwards, a share per reconciliation
   * (`verifyLoaded`), so a million open payments are ready in the time it takes to read and evaluate them.
   */
  async loadNow(pool: pg.Pool, clock: () => Date): Promise<void> {
    const previous = this.turn;
    let release: () => void = () => {};
    this.turn = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      this.workingSet = undefined;
      this.dropped = "start";
      this.unverified = undefined;
      const reading = performance.now();
      const cpuBefore = process.cpuUsage();
      const { workingSet, at, finalSince } = await withTransaction(pool, async (tx) => {
        await tx.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);
        // Never reconciled (a fresh database): this load starts the clock.
        const at = (await storedReconcileClock(tx)) ?? (await advanceReconcileClock(tx, clock())).getTime();
        // Each page indexed while PostgreSQL reads the next (the read waits on it); an attempt again starts afresh.
        const workingSet = new WorkingSet(this.deps.policy);
        await readWorldFacts(tx, (page) => workingSet.addBeforeLoad(page));
        return { workingSet, at, finalSince: await finalSinceStored(tx, FINAL_STATUSES) };
      });
      const applying = performance.now();
      const cpuRead = process.cpuUsage(cpuBefore);
      const keys = workingSet.load({}, at);
      // A restart does not start every late-truth window again.
      workingSet.backdateFinal(finalSince);
      const cpuApply = process.cpuUsage(cpuBefore);
      this.deps.metrics.workingSetLoads.inc({ reason: "start" });
      this.workingSet = workingSet;
      this.everLoaded = true;
      this.clockLeft = at;
      this.unverified = {
        payments: [...keys.payments],
        entries: [...keys.entries],
        batches: [...keys.batches],
        events: [...keys.events],
      };
      this.deps.metrics.workingSetUnverified.set(unverifiedCount(this.unverified));
      this.deps.log.info(
        {
          reason: "start",
          readMs: Math.round(applying - reading),
          applyMs: Math.round(performance.now() - applying),
          // This process's CPU in each (the machine may be shared: wall time alone says little).
          readCpuMs: Math.round((cpuRead.user + cpuRead.system) / 1000),
          applyCpuMs: Math.round((cpuApply.user + cpuApply.system - cpuRead.user - cpuRead.system) / 1000),
          keys: unverifiedCount(this.unverified),
        },
        "working set loaded",
      );
    } finally {
      release();
    }
  }

  /**
   * Compares the loaded working set with the stored rows whole, VERIFY_CHUNK keys per transaction (each also applies
   * the time passed, as a sweep does), writing where they differ: a read model another engine left behind (the sql
   * engine applies deadlines only when it sweeps) is brought to the working set's. Resolves when done or `stopped()`.
   */
  async verifyLoaded(
    pool: pg.Pool,
    clock: () => Date,
    stopped: () => boolean,
    /** The path every write of this engine takes (the writer's fence, with leadership). */
    reconcile: FactReconciler = (tx, touched, at) => this.reconcile(tx, touched, at),
  ): Promise<void> {
    while (this.unverifiedLeft() && !stopped()) {
      let effects: ReconcileEffects | undefined;
      await withTransaction(pool, async (tx) => {
        effects = await reconcile(tx, emptyTouched(), clock);
      });
      effects?.afterCommit();
    }
  }

  /**
   * Whether the working set was loaded (readiness with the memory engine). It stays true when a transaction that did
   * not commit drops the set: the next transaction loads it again, and readiness must not flap with a deadlock retry.
   */
  loaded(): boolean {
    return this.everLoaded;
  }

  private unverifiedLeft(): boolean {
    return this.unverified !== undefined && unverifiedCount(this.unverified) > 0;
  }

  /** The next keys to compare after a load: up to VERIFY_CHUNK, taken off `unverified`. */
  private nextToVerify(): Reevaluated | undefined {
    const left = this.unverified;
    if (!left || unverifiedCount(left) === 0) return undefined;
    let room = VERIFY_CHUNK;
    const take = (keys: string[]) => {
      const taken = keys.splice(Math.max(0, keys.length - room), room);
      room -= taken.length;
      return new Set(taken);
    };
    const chunk = {
      payments: take(left.payments),
      entries: take(left.entries),
      batches: take(left.batches),
      events: take(left.events),
    };
    this.deps.metrics.workingSetUnverified.set(unverifiedCount(left));
    return chunk;
  }

  /** Implements FactReconciler: the facts of `touched` are stored in `tx` already. */
  async reconcile(tx: pg.PoolClient, touched: TouchedFacts, clock: () => Date): Promise<ReconcileEffects> {
    const began = performance.now();
    let release: (() => void) | undefined;
    let nowMs = Number.NaN;
    // Whoever runs the transaction (ingest, the sweeper, an operator's decision) and however it ends — a retry
    // after a deadlock included — the next reconciliation waits for it, then finds the working set right.
    onTransactionEnd(tx, (committed) => {
      if (committed) this.clockLeft = nowMs;
      else {
        this.workingSet = undefined;
        this.dropped = "rolled_back";
        // The next load compares whole.
        this.unverified = undefined;
        this.deps.metrics.workingSetUnverified.set(0);
      }
      release?.();
    });
    const previous = this.turn;
    this.turn = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    // A throw below rolls the transaction back: its end hook drops the working set and lets the next one go.
    await tx.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);
    const locked = performance.now();
    // Facts other processes committed since this engine's last commit, if the journal still reaches back.
    const others =
      this.workingSet && this.clockLeft !== undefined && (await reconcileClock(tx)) !== this.clockLeft
        ? await touchedSince(tx, this.clockLeft)
        : emptyTouched();
    const reloadReason = !this.workingSet
      ? this.dropped
      : !others
        ? "behind"
        : othersTouchEvicted(this.workingSet, others)
          ? "other_writer"
          : undefined;
    const now = await advanceReconcileClock(tx, clock());
    nowMs = now.getTime();
    await journalTouched(tx, now, touched);
    let workingSet = this.workingSet;
    let reevaluated: Reevaluated;
    if (!workingSet || !others || reloadReason) {
      this.deps.metrics.workingSetLoads.inc({ reason: reloadReason ?? "start" });
      // Loaded whole (in this transaction, so exactly the committed facts plus this one's), then compared whole.
      const reading = performance.now();
      const facts = await loadWorldFacts(tx);
      const applying = performance.now();
      workingSet = new WorkingSet(this.deps.policy);
      workingSet.load(facts, nowMs);
      // A restart does not start every late-truth window again.
      workingSet.backdateFinal(await finalSinceStored(tx, FINAL_STATUSES));
      reevaluated = workingSet.everything();
      this.workingSet = workingSet;
      this.everLoaded = true;
      this.unverified = undefined;
      this.loadTimes = { readMs: applying - reading, applyMs: performance.now() - applying };
    } else {
      // The facts the caller just stored, unless other writers' facts must be read anyway.
      const facts: WorldFacts =
        touched.stored && isEmpty(others)
          ? { decisions: [], paymentDecisions: [], ...touched.stored() }
          : await loadTouchedFacts(tx, mergeTouched(others, touched));
      await reloadEvicted(tx, workingSet, facts, this.deps);
      reevaluated = workingSet.apply(facts, nowMs);
      const verifying = this.nextToVerify();
      if (verifying) reevaluated = mergeReevaluated(reevaluated, verifying);
    }
    await upsertBatchesFromEvents(tx, [...touched.gatewayEventSeqs]);
    const writing = performance.now();
    const { statusChanges, changed } = await this.write(tx, workingSet, reevaluated, now);
    // Written: what is final past the late-truth window may leave memory (a bounded look per transaction).
    // Not while keys loaded at start are still to be compared: an evicted group is restored as stored.
    if (this.eviction.evictAfterMs !== undefined && !this.unverifiedLeft()) {
      evictFinal(workingSet, nowMs, this.eviction.evictAfterMs, this.deps);
    }
    const reconcileMs = performance.now() - began;
    if (this.loadTimes) {
      this.deps.log.info(
        { reason: reloadReason ?? "start", ...this.loadTimes, compareMs: Math.round(performance.now() - writing) },
        "working set loaded",
      );
      this.loadTimes = undefined;
    }
    const { metrics } = this.deps;
    return {
      afterCommit: () => {
        metrics.reconcileDuration.observe(reconcileMs / 1000);
        // Held until the commit just made.
        metrics.reconcileLockHeld.observe((performance.now() - locked) / 1000);
        recordStatusMetrics(this.deps, statusChanges, nowMs);
      },
      changed,
    };
  }

  /** Writes what the re-evaluated keys say where it differs from the stored rows; returns the status changes. */
  private async write(tx: pg.PoolClient, workingSet: WorkingSet, keys: Reevaluated, now: Date) {
    const { policy } = this.deps;
    const nowMs = now.getTime();
    const desired = new Map<string, DesiredException[]>();

    // Matches, and the grace deadline of unmatched entries (as the sql engine stores them).
    const entries = [...keys.entries].map((key) => ({ key, ...workingSet.entryOf(key) }));
    const stored = await loadMatches(
      tx,
      entries.map(({ entry }) => entry.seq),
    );
    const matchRows = [];
    for (const { key, entry, match } of entries) {
      desired.set(`entry:${key}`, workingSet.exceptionsOf(`entry:${key}`));
      const deadline = entry.receivedAt + policy.unmatchedGraceMs;
      const unmatchedDeadline = match.kind === "none" && nowMs < deadline ? deadline : null;
      const old = stored.get(entry.seq);
      if (old && sameMatch(old.match, match) && old.unmatchedDeadline === unmatchedDeadline) continue;
      matchRows.push({ entrySeq: entry.seq, match, unmatchedDeadline });
    }
    await saveMatches(tx, matchRows, now);

    // Batch states (a state written again is the same row: cheap next to finding out whether it changed).
    const batchRows = [...keys.batches].map((key) => {
      desired.set(`batch:${key}`, workingSet.exceptionsOf(`batch:${key}`));
      const { state } = workingSet.batchOf(key);
      return {
        ...parseBatchKey(key),
        state: state.state,
        settledOn: state.state === "settled" ? state.settledOn : null,
        differenceMinor: state.state === "mismatch" ? state.differenceMinor : null,
      };
    });
    await saveBatchStates(tx, batchRows);

    // Payments: identity and status rows where they differ from the stored ones.
    const ids = [...keys.payments];
    const storedPayments = await loadStoredPayments(tx, ids);
    const all: PaymentChange[] = [];
    const changedIdentities = [];
    for (const id of ids) {
      const outcome = workingSet.outcomeOf(id);
      const identity = workingSet.identityOf(id);
      if (!outcome || !identity) continue;
      desired.set(`payment:${id}`, workingSet.exceptionsOf(`payment:${id}`));
      const previous = storedPayments.get(id);
      all.push({ outcome, previous });
      if (previous?.identityHash !== identityHash(identity.payment, identity.cancelled)) {
        changedIdentities.push({ id, payment: identity.payment, cancelled: identity.cancelled });
      }
    }
    const changed = all.filter(({ outcome, previous }) => previous?.signature !== outcomeSignature(outcome));
    const written = await writePaymentRows(tx, { all, changed }, changedIdentities, storedPayments, now);

    // Gateway events naming no payment (the working set keys them gateway\0event id; owners say gateway/event id).
    for (const key of keys.events) {
      const event = workingSet.eventOf(key);
      desired.set(`event:${event.gateway}/${event.eventId}`, workingSet.exceptionsOf(`event:${key}`));
    }
    const exceptionChanges = await syncExceptions(
      tx,
      desired,
      now,
      policy.priorityTiers,
      policy.priorityScale,
      exceptionFindings(this.deps),
    );
    const statusChanges = await recordStatusChanges(tx, written, now, this.deps);
    return {
      statusChanges,
      changed: matchRows.length + changed.length + exceptionChanges.length + changedIdentities.length,
    };
  }
}

function isEmpty(touched: TouchedFacts): boolean {
  return Object.values(touched).every((value) => !(value instanceof Set) || value.size === 0);
}

/** Payments examined for eviction per transaction: bounded work, however much is final. */
const EVICTION_LOOK = 500;

/** Loads back, inside the transaction, every evicted group the facts could touch (until none is named). */
async function reloadEvicted(tx: pg.PoolClient, workingSet: WorkingSet, facts: WorldFacts, deps: ReconcileDeps) {
  for (let groups = workingSet.toReload(facts); groups.length > 0; groups = workingSet.toReload(facts)) {
    workingSet.restore(groups, await loadEvictedGroups(tx, groups));
    deps.metrics.workingSetReloads.inc(groups.reduce((sum, group) => sum + group.paymentIds.length, 0));
  }
}

function evictFinal(workingSet: WorkingSet, nowMs: number, evictAfterMs: number, deps: ReconcileDeps): void {
  const before = workingSet.memoryCounts().evictedPayments;
  workingSet.evict(workingSet.evictable(nowMs, evictAfterMs, EVICTION_LOOK));
  const counts = workingSet.memoryCounts();
  if (counts.evictedPayments > before) deps.metrics.workingSetEvictions.inc(counts.evictedPayments - before);
  const items = deps.metrics.workingSetItems;
  items.set({ kind: "payment", state: "open" }, counts.payments);
  items.set({ kind: "payment", state: "evicted" }, counts.evictedPayments);
  items.set({ kind: "bank_entry", state: "open" }, counts.entries);
  items.set({ kind: "bank_entry", state: "evicted" }, counts.evictedEntries);
}

/**
 * Whether another writer's facts could reach evicted groups: their rows are committed, so the loader (which
 * leaves out only this transaction's rows) would restore them as stored and `apply` would not see them arrive.
 * Rare (one memory engine is the writer); the working set is then loaded whole.
 */
function othersTouchEvicted(workingSet: WorkingSet, others: TouchedFacts): boolean {
  return !isEmpty(others) && workingSet.memoryCounts().evictedPayments > 0;
}

/** Keys compared with their stored rows per reconciliation after `loadNow`: a share that keeps each one short. */
const VERIFY_CHUNK = 10_000;

function unverifiedCount(keys: { payments: string[]; entries: string[]; batches: string[]; events: string[] }): number {
  return keys.payments.length + keys.entries.length + keys.batches.length + keys.events.length;
}

function mergeReevaluated(a: Reevaluated, b: Reevaluated): Reevaluated {
  return {
    payments: new Set([...a.payments, ...b.payments]),
    entries: new Set([...a.entries, ...b.entries]),
    batches: new Set([...a.batches, ...b.batches]),
    events: new Set([...a.events, ...b.events]),
  };
}

function mergeTouched(a: TouchedFacts, b: TouchedFacts): TouchedFacts {
  const merged = emptyTouched();
  for (const side of [a, b]) {
    for (const id of side.paymentIds) merged.paymentIds.add(id);
    for (const seq of side.gatewayEventSeqs) merged.gatewayEventSeqs.add(seq);
    for (const seq of side.entrySeqs) merged.entrySeqs.add(seq);
    for (const seq of side.recheckEntrySeqs) merged.recheckEntrySeqs.add(seq);
  }
  return merged;
}
