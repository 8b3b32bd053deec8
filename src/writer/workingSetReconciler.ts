import type pg from "pg";
import type { FactReconciler, ReconcileEffects } from "../consumers/ingest.js";
import { loadMatches, saveBatchStates, saveMatches, upsertBatchesFromEvents } from "../db/queries/matching.js";
import { advanceReconcileClock, reconcileClock, storedReconcileClock } from "../db/queries/reconcileClock.js";
import { loadStoredPayments, type StoredPayment } from "../db/queries/paymentState.js";
import { loadTouchedFacts, loadWorldFacts, readWorldFacts } from "../db/queries/worldFacts.js";
import { finalSinceStored, loadEvictedGroups } from "../db/queries/evictedGroups.js";
import { entryKey, type WorldFacts } from "../reconcile/world.js";
import type { DesiredException } from "../reconcile/exceptions.js";
import { emptyTouched, parseBatchKey, type TouchedFacts } from "../reconcile/touched.js";
import { journalTouched, touchedSince } from "../db/queries/reconcileJournal.js";
import { onTransactionEnd, withTransaction } from "../db/transaction.js";
import { FINAL_STATUSES, type Reevaluated, WorkingSet } from "../reconcile/workingSet.js";
import { syncExceptions } from "./exceptionSync.js";
import { sameIdentity, sameOutcome, sameWrittenMatch, writtenPayment, WrittenRows } from "./writtenRows.js";
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
 * asks PostgreSQL nothing to find what new facts touch or to rebuild the payments they touch; it compares what it
 * re-evaluated with the rows it last wrote (WrittenRows: read back only for keys it does not know, and exceptions,
 * which operators change), to write what changed, once.
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
  /** The slices evaluating what the last `loadNow` left pending; resolves when done (or the set was dropped). */
  private settling: Promise<void> = Promise.resolve();
  /** How long the load in the running transaction took, for its log line. */
  private loadTimes: { readMs: number; applyMs: number } | undefined;
  /** Keys `loadNow` loaded that are not compared with their stored rows yet. */
  private unverified: { payments: string[]; entries: string[]; batches: string[]; events: string[] } | undefined;
  private everLoaded = false;
  /** The rows this engine last wrote, compared instead of read back (cleared whenever another writer may have written). */
  private readonly written = new WrittenRows();

  constructor(
    private readonly deps: ReconcileDeps,
    /** WORKING_SET_EVICT_AFTER; absent, nothing leaves memory. */
    private readonly eviction: { evictAfterMs?: number } = {},
  ) {}

  /**
   * Loads the working set whole now (at start, before the daemon says ready; or when a standby takes over), afresh
   * even if loaded. It reads the facts and the reconcile clock under the reconciliation lock (no writer commits
   * meanwhile) and indexes and matches them at that clock, the moment the stored rows describe; the next reconciliation
   * applies the time since. Payments are evaluated after it, in slices (`settleLoaded`). It writes nothing: the stored
   * rows are compared with it afterwards, a share per reconciliation (`verifyLoaded`), so a million open payments are
   * ready in the time it takes to read and match them.
   */
  async loadNow(pool: pg.Pool, clock: () => Date): Promise<void> {
    await this.inTurn(async () => {
      this.workingSet = undefined;
      this.dropped = "start";
      this.unverified = undefined;
      this.written.clear();
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
      workingSet.load({}, at);
      // A restart does not start every late-truth window again.
      workingSet.backdateFinal(finalSince);
      const cpuApply = process.cpuUsage(cpuBefore);
      this.deps.metrics.workingSetLoads.inc({ reason: "start" });
      this.workingSet = workingSet;
      this.everLoaded = true;
      this.clockLeft = at;
      this.unverified = workingSet.keyLists();
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
          pendingPayments: workingSet.pendingPayments(),
        },
        "working set loaded",
      );
    });
    // Not awaited: the daemon is ready now; reconciliations run between the slices.
    this.settling = this.settleLoaded(this.workingSet!).catch((error) =>
      this.deps.log.error({ err: error }, "evaluating the loaded working set failed"),
    );
  }

  /**
   * Evaluates the payments `loadNow` left pending (WorkingSet.settle), SETTLE_SLICE at a time between reconciliations:
   * a reconciliation waits for at most one slice, and one that comes first evaluates what it touches itself. Deadlines
   * passed since the load are applied by the reconciliation after the slice that settles their payment.
   */
  private async settleLoaded(workingSet: WorkingSet): Promise<void> {
    const began = performance.now();
    const cpuBefore = process.cpuUsage();
    const gauge = this.deps.metrics.workingSetPending;
    gauge.set(workingSet.pendingPayments());
    if (workingSet.pendingPayments() === 0) return;
    while (this.workingSet === workingSet && workingSet.pendingPayments() > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.inTurn(async () => {
        if (this.workingSet === workingSet) workingSet.settle(SETTLE_SLICE);
      });
      gauge.set(this.workingSet === workingSet ? workingSet.pendingPayments() : 0);
    }
    if (this.workingSet !== workingSet) return;
    const cpu = process.cpuUsage(cpuBefore);
    this.deps.log.info(
      {
        evaluateMs: Math.round(performance.now() - began),
        // This process's CPU meanwhile, reconciliations between the slices included.
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      },
      "working set evaluated",
    );
  }

  /** Runs `work` when no reconciliation, load or slice runs (they take turns). */
  private async inTurn(work: () => Promise<void>): Promise<void> {
    const previous = this.turn;
    let release: () => void = () => {};
    this.turn = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      await work();
    } finally {
      release();
    }
  }

  /**
   * Compares the loaded working set with the stored rows whole, VERIFY_CHUNK keys per transaction (each also applies
   * the time passed, as a sweep does), writing where they differ: a read model another engine left behind (the sql
   * engine applies deadlines only when it sweeps) is brought to the working set's. Starts once the payments `loadNow`
   * left pending are evaluated. Resolves when done or `stopped()`.
   */
  async verifyLoaded(
    pool: pg.Pool,
    clock: () => Date,
    stopped: () => boolean,
    /** The path every write of this engine takes (the writer's fence, with leadership). */
    reconcile: FactReconciler = (tx, touched, at) => this.reconcile(tx, touched, at),
  ): Promise<void> {
    // After the payments are evaluated: a comparison's transaction between two slices would hold each back a while.
    await this.settling;
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
      if (committed) {
        this.clockLeft = nowMs;
        this.written.commit();
      } else {
        this.written.clear();
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
    const othersWrote =
      this.workingSet !== undefined && this.clockLeft !== undefined && (await reconcileClock(tx)) !== this.clockLeft;
    // Another writer held the lock since (even one that stored no facts may have written rows): what this engine
    // wrote last is no longer known to be what is stored.
    if (othersWrote) this.written.clear();
    const others =
      othersWrote && this.clockLeft !== undefined ? await touchedSince(tx, this.clockLeft) : emptyTouched();
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
    // Payments and entries whose first facts this transaction applies: no row of theirs exists yet.
    let fresh: Fresh = { payments: new Set(), entries: new Set() };
    if (!workingSet || !others || reloadReason) {
      this.deps.metrics.workingSetLoads.inc({ reason: reloadReason ?? "start" });
      // Loaded whole (in this transaction, so exactly the committed facts plus this one's), then compared whole.
      const reading = performance.now();
      const facts = await loadWorldFacts(tx);
      const applying = performance.now();
      workingSet = new WorkingSet(this.deps.policy);
      workingSet.load(facts, nowMs);
      // Everything is compared whole with the stored rows, read back.
      this.written.clear();
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
      // Only while this engine is the only writer: another writer's facts come with its rows.
      if (!othersWrote) fresh = firstFacts(workingSet, facts);
      reevaluated = workingSet.apply(facts, nowMs);
      // Not while payments are pending: a comparison would evaluate a whole share of them inside this transaction.
      const verifying = workingSet.pendingPayments() === 0 ? this.nextToVerify() : undefined;
      if (verifying) reevaluated = mergeReevaluated(reevaluated, verifying);
    }
    await upsertBatchesFromEvents(tx, [...touched.gatewayEventSeqs]);
    const writing = performance.now();
    const { statusChanges, changed } = await this.write(tx, workingSet, reevaluated, now, fresh);
    // Written: what is final past the late-truth window may leave memory (a bounded look per transaction).
    // Not while keys loaded at start are still to be compared: an evicted group is restored as stored.
    if (this.eviction.evictAfterMs !== undefined && !this.unverifiedLeft()) {
      evictFinal(workingSet, nowMs, this.eviction.evictAfterMs, this.deps, this.written);
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
  private async write(tx: pg.PoolClient, workingSet: WorkingSet, keys: Reevaluated, now: Date, fresh: Fresh) {
    const { policy } = this.deps;
    const nowMs = now.getTime();
    const desired = new Map<string, DesiredException[]>();

    // Matches, and the grace deadline of unmatched entries (as the sql engine stores them).
    // Compared with what this engine last wrote; rows it does not know are read (and known from then on).
    const { written } = this;
    const entries = [...keys.entries].map((key) => ({ key, ...workingSet.entryOf(key) }));
    const unknown = entries.filter(({ key }) => !written.match(key) && !fresh.entries.has(key));
    const read = await loadMatches(
      tx,
      unknown.map(({ entry }) => entry.seq),
    );
    const matchRows = [];
    for (const { key, entry, match } of entries) {
      desired.set(`entry:${key}`, workingSet.exceptionsOf(`entry:${key}`));
      const deadline = entry.receivedAt + policy.unmatchedGraceMs;
      const unmatchedDeadline = match.kind === "none" && nowMs < deadline ? deadline : null;
      written.stageMatch(key, { match, unmatchedDeadline });
      if (sameWrittenMatch(written.match(key) ?? read.get(entry.seq), match, unmatchedDeadline)) continue;
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
    const readPayments = await loadStoredPayments(
      tx,
      ids.filter((id) => !written.payment(id) && !fresh.payments.has(id)),
    );
    const storedPayments = new Map<string, StoredPayment>();
    const all: PaymentChange[] = [];
    const changed: PaymentChange[] = [];
    const changedIdentities = [];
    for (const id of ids) {
      const outcome = workingSet.outcomeOf(id);
      const identity = workingSet.identityOf(id);
      if (!outcome || !identity) continue;
      desired.set(`payment:${id}`, workingSet.exceptionsOf(`payment:${id}`));
      const read = readPayments.get(id);
      const before = written.payment(id) ?? (read ? { stored: read } : undefined);
      const previous = before?.stored;
      if (previous) storedPayments.set(id, previous);
      const change = { outcome, previous };
      all.push(change);
      const differs = {
        outcome: !before || !sameOutcome(before, outcome),
        identity: !before || !sameIdentity(before, identity.payment, identity.cancelled),
      };
      if (differs.outcome) changed.push(change);
      if (differs.identity) changedIdentities.push({ id, payment: identity.payment, cancelled: identity.cancelled });
      written.stagePayment(id, writtenPayment(before, outcome, identity, differs));
    }
    const paymentRows = await writePaymentRows(tx, { all, changed }, changedIdentities, storedPayments, now);

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
    const statusChanges = await recordStatusChanges(tx, paymentRows, now, this.deps);
    return {
      statusChanges,
      changed: matchRows.length + changed.length + exceptionChanges.length + changedIdentities.length,
    };
  }
}

interface Fresh {
  payments: Set<string>;
  entries: Set<string>;
}

/**
 * Payments and entries the working set holds no fact of before `facts` (called after evicted groups they could touch
 * are loaded back): a payment row is written only for a version in force, a match row only for a stored entry, so
 * neither has a row to read back.
 */
function firstFacts(workingSet: WorkingSet, facts: WorldFacts): Fresh {
  const fresh: Fresh = { payments: new Set(), entries: new Set() };
  for (const version of facts.versions) {
    if (!workingSet.identityOf(version.paymentId)) fresh.payments.add(version.paymentId);
  }
  for (const entry of facts.entries) {
    const key = entryKey(entry);
    if (!workingSet.hasEntry(key)) fresh.entries.add(key);
  }
  return fresh;
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

function evictFinal(
  workingSet: WorkingSet,
  nowMs: number,
  evictAfterMs: number,
  deps: ReconcileDeps,
  written: WrittenRows,
): void {
  const before = workingSet.memoryCounts().evictedPayments;
  const refs = workingSet.evictable(nowMs, evictAfterMs, EVICTION_LOOK);
  workingSet.evict(refs);
  for (const ref of refs) {
    const group = workingSet.evictedGroup(ref);
    if (group) written.forget(group.paymentIds, group.entryKeys);
  }
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
/** Payments evaluated per slice after `loadNow` (~30 µs each): what a reconciliation may wait for. */
const SETTLE_SLICE = 2_000;

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
