import type pg from "pg";
import type { FactReconciler, ReconcileEffects } from "../consumers/ingest.js";
import { loadMatches, saveBatchStates, saveMatches, upsertBatchesFromEvents } from "../db/queries/matching.js";
import {
  advanceReconcileClock,
  reconcileClock,
  setReconcileClock,
  storedReconcileClock,
} from "../db/queries/reconcileClock.js";
import { applyTotals, loadStoredPayments, type StoredPayment, sumTotals } from "../db/queries/paymentState.js";
import { loadTouchedFacts, loadWorldFacts, readWorldFacts } from "../db/queries/worldFacts.js";
import { finalSinceStored, loadEvictedGroups } from "../db/queries/evictedGroups.js";
import { findStoredGroups } from "../db/queries/evictedKeys.js";
import { matchWindowDays } from "../reconcile/evicted.js";
import { entryKey, type WorldFacts } from "../reconcile/world.js";
import type { DesiredException } from "../reconcile/exceptions.js";
import type { EntryMatch } from "../reconcile/matching.js";
import type { ExpectedPayment } from "../messages/schemas.js";
import { emptyTouched, parseBatchKey, type TouchedFacts } from "../reconcile/touched.js";
import { journalTouched, touchedSince } from "../db/queries/reconcileJournal.js";
import { onTransactionEnd, withTransaction } from "../db/transaction.js";
import { FINAL_STATUSES, type Reevaluated, WorkingSet } from "../reconcile/workingSet.js";
import { syncExceptions } from "./exceptionSync.js";
import {
  sameIdentity,
  sameOutcome,
  sameWrittenMatch,
  writtenPayment,
  WrittenRows,
  type WrittenStage,
} from "./writtenRows.js";
import {
  exceptionFindings,
  type PaymentChange,
  RECONCILE_LOCK,
  insertStatusRows,
  type ReconcileDeps,
  recordStatusMetrics,
  type WrittenPayments,
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
  private dropped: "start" | "rolled_back" | "other_writer" = "start";
  /** The reconcile clock this engine's last committed transaction left. */
  private clockLeft: number | undefined;
  /** Transactions in the order they began to reconcile: each takes the lock once the one before it ended. */
  private turn: Promise<void> = Promise.resolve();
  /**
   * The in-memory stages (apply, compare, evict) in the same order, one at a time: a stage may run ahead of the
   * transactions before it while they send their statements and commit (step 8, apply-ahead).
   */
  private memoryTurn: Promise<void> = Promise.resolve();
  /**
   * Reconciliations that will use the working set under the lock (not ahead, or redoing an ahead stage): while any
   * is waiting or working, no stage goes ahead, so the one under the lock has the working set to itself.
   */
  private aheadBlocked = 0;
  /** The reconcile time the working set was last brought to (committed or not): an ahead stage's starting point. */
  private memoryClock: number | undefined;
  /** Reconciliations begun (their order: `turn`'s and the lock's). */
  private started = 0;
  /** Reconciliations not done with the working set yet (their stage checked under the lock, or their transaction ended). */
  private readonly unsettled = new Set<number>();
  /**
   * The working set was loaded again while stages begun up to this one may have gone ahead on the one before: none
   * goes ahead until they are settled (each applies its facts again under the lock, on the new one, in order).
   */
  private staleThrough = 0;
  /**
   * Reconciliations whose stage evicted groups and whose transaction has not ended: an ahead stage finds evicted
   * groups in PostgreSQL, which does not show it what those transactions wrote, so none goes ahead meanwhile.
   */
  private readonly evictingUnsettled = new Set<number>();
  /** The slices evaluating what the last `loadNow` left pending; resolves when done (or the set was dropped). */
  private settling: Promise<void> = Promise.resolve();
  /** How long the load in the running transaction took, for its log line. */
  private loadTimes: { reason: string; ms: { readMs: number; applyMs: number } } | undefined;
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
    // No stage goes ahead while the working set is replaced.
    await this.inTurn(
      async () => {
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
        this.memoryClock = at;
        this.staleThrough = this.started;
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
      },
      { blockAhead: true },
    );
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
        // Not in the middle of a stage applied ahead (it holds the memory turn through its apply and compare).
        const releaseMemory = await this.takeMemoryTurn();
        try {
          if (this.workingSet === workingSet) workingSet.settle(SETTLE_SLICE);
        } finally {
          releaseMemory();
        }
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

  /**
   * Runs `work` when the reconciliations, loads and slices before it have ended (they take turns); with `blockAhead`,
   * no stage goes ahead from the moment it asks until `work` is done.
   */
  private async inTurn(work: () => Promise<void>, options: { blockAhead?: boolean } = {}): Promise<void> {
    const previous = this.turn;
    let release: () => void = () => {};
    this.turn = new Promise((resolve) => {
      release = resolve;
    });
    if (options.blockAhead) await this.blockAhead();
    await previous;
    try {
      await work();
    } finally {
      if (options.blockAhead) this.aheadBlocked--;
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

  /** Whether a reconciliation begun before the working set was last loaded again is not done with it yet. */
  private staleLeft(): boolean {
    for (const sequence of this.unsettled) if (sequence <= this.staleThrough) return true;
    return false;
  }

  /**
   * Takes the memory turn only to block stages from going ahead, and gives it back: the caller works on the working
   * set under the lock once the transactions before it ended. Stages that went ahead before it are done by then.
   */
  private async blockAhead(): Promise<void> {
    const releaseMemory = await this.takeMemoryTurn();
    this.aheadBlocked++;
    releaseMemory();
  }

  private async takeMemoryTurn(): Promise<() => void> {
    const previous = this.memoryTurn;
    let release: () => void = () => {};
    this.memoryTurn = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    return release;
  }

  /** Implements FactReconciler: the facts of `touched` are stored in `tx` already. */
  async reconcile(tx: pg.PoolClient, touched: TouchedFacts, clock: () => Date): Promise<ReconcileEffects> {
    const began = performance.now();
    const sequence = ++this.started;
    this.unsettled.add(sequence);
    let release: (() => void) | undefined;
    // What the end hook needs: the time this transaction set the clock to, and what it staged.
    const run: { nowMs: number; stage?: WrittenStage } = { nowMs: Number.NaN };
    // Whoever runs the transaction (ingest, the sweeper, an operator's decision) and however it ends — a retry
    // after a deadlock included — the next reconciliation waits for it, then finds the working set right.
    onTransactionEnd(tx, (committed) => {
      this.unsettled.delete(sequence);
      this.evictingUnsettled.delete(sequence);
      if (committed) {
        this.clockLeft = run.nowMs;
        if (run.stage) this.written.commit(run.stage);
      } else {
        // Stages applied ahead on this working set are dropped with it: they find it gone when their turn comes.
        this.written.clear();
        this.workingSet = undefined;
        this.memoryClock = undefined;
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
    // Apply-ahead: the facts are applied and the rows compared while the transactions before this one still send
    // their statements and commit; then this one takes the lock, checks the clock is where they left it, and writes.
    let prepared: Prepared | undefined;
    let blocked = false;
    const releaseMemory = await this.takeMemoryTurn();
    try {
      if (this.mayGoAhead(touched)) prepared = await this.applyAhead(tx, touched, clock, run);
      if (prepared?.evicted) this.evictingUnsettled.add(sequence);
      if (!prepared) {
        this.aheadBlocked++;
        blocked = true;
      }
    } finally {
      releaseMemory();
    }
    // Outside the memory turn: the next stage computes while these rows are sent.
    if (prepared) await this.writeAhead(tx, prepared);
    let locked = Number.NaN;
    try {
      await previous;
      // A throw below rolls the transaction back: its end hook drops the working set and lets the next one go.
      await tx.query("select pg_advisory_xact_lock($1)", [RECONCILE_LOCK]);
      locked = performance.now();
      if (prepared) {
        const at = await reconcileClock(tx);
        const same = this.workingSet === prepared.workingSet;
        if (same && at === prepared.basisMs) {
          // Nothing else committed since the stage's starting point: its rows are the ones to write.
          run.nowMs = prepared.nowMs;
          await setReconcileClock(tx, new Date(prepared.nowMs));
          await journalTouched(tx, new Date(prepared.nowMs), touched);
          this.deps.metrics.appliedAhead.inc({ result: "used" });
        } else {
          // No stage goes ahead until this one has worked on the working set again.
          this.aheadBlocked++;
          blocked = true;
          // What it wrote ahead is undone: the redo reads stored rows and writes its own.
          if (prepared.writtenAhead) await tx.query("rollback to savepoint payrecon_ahead");
          prepared = await this.redo(tx, touched, clock, run, prepared);
        }
      }
      prepared ??= await this.applyUnderLock(tx, touched, clock, run);
      if (prepared.evicted) this.evictingUnsettled.add(sequence);
    } finally {
      this.unsettled.delete(sequence);
      if (blocked) this.aheadBlocked--;
    }
    const now = new Date(run.nowMs);
    await upsertBatchesFromEvents(tx, [...touched.gatewayEventSeqs]);
    const writing = performance.now();
    const { statusChanges, changed } = await this.send(tx, prepared, now);
    const reconcileMs = performance.now() - began;
    if (this.loadTimes) {
      this.deps.log.info(
        { reason: this.loadTimes.reason, ...this.loadTimes.ms, compareMs: Math.round(performance.now() - writing) },
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
        recordStatusMetrics(this.deps, statusChanges, run.nowMs);
      },
      changed,
    };
  }

  /**
   * Whether this reconciliation may apply its facts before it holds the lock: the working set is loaded, nobody is
   * waiting to use it under the lock, and the facts are the ones the caller just stored (read nowhere) — an
   * operator's decision, whose facts are read back, waits for the lock as before.
   */
  private mayGoAhead(touched: TouchedFacts): boolean {
    return (
      this.workingSet !== undefined &&
      this.memoryClock !== undefined &&
      this.aheadBlocked === 0 &&
      !this.staleLeft() &&
      (touched.stored !== undefined || isEmpty(touched))
    );
  }

  /**
   * An ahead stage the lock found invalid: a transaction before it did not commit (the working set was dropped) or
   * the set was loaded again since (a later stage's facts may be in the one it applied to), or another writer
   * committed between (the clock moved). It blocks new stages, waits for those ahead of it, then, on a working set
   * holding exactly the committed facts and its own, computes its rows again: when its stage was the last applied
   * and evicted nothing, the other writer's facts are applied after its own (the working set's state depends on the
   * facts and the time, not their order: the property tests deliver facts in any order) and both sets of keys are
   * compared again; otherwise the set is loaded whole in this transaction (its facts included) or, if already loaded
   * again by the transactions before, its facts are applied to that.
   */
  private async redo(
    tx: pg.PoolClient,
    touched: TouchedFacts,
    clock: () => Date,
    run: { nowMs: number; stage?: WrittenStage },
    prepared: Prepared,
  ): Promise<Prepared> {
    this.deps.metrics.appliedAhead.inc({ result: "redone" });
    if (run.stage) this.written.abandon(run.stage);
    run.stage = undefined;
    // Stages that went ahead before this one finish (new ones are blocked by the caller).
    await this.memoryTurn;
    if (this.workingSet !== prepared.workingSet) return this.applyUnderLock(tx, touched, clock, run);
    if (this.memoryClock === prepared.nowMs && !prepared.evicted) {
      return this.applyUnderLock(tx, touched, clock, run, prepared);
    }
    this.workingSet = undefined;
    this.dropped = "other_writer";
    return this.applyUnderLock(tx, touched, clock, run);
  }

  /**
   * The in-memory stage before the lock, holding the memory turn: the facts applied at a time after the last stage's
   * (the clock is monotonic in commit order), the rows compared with what the stages before staged (not yet
   * committed), unknown rows read (no transaction before this one wrote them: each stages every row it writes), and
   * what is final evicted. Undefined, having changed nothing, when the facts could touch evicted groups: reloading
   * them reads stored rows, which must include what the transactions before wrote.
   */
  private async applyAhead(
    tx: pg.PoolClient,
    touched: TouchedFacts,
    clock: () => Date,
    run: { stage?: WrittenStage },
  ): Promise<Prepared | undefined> {
    const workingSet = this.workingSet!;
    const basisMs = this.memoryClock!;
    const facts: WorldFacts = touched.stored ? { decisions: [], paymentDecisions: [], ...touched.stored() } : noFacts();
    const query = workingSet.reloadQuery(facts);
    if (query) {
      // Facts that could touch evicted groups wait for the lock, where reloading them reads what the transactions
      // before wrote. Found here in PostgreSQL, less the groups in memory: what the unsettled transactions wrote is
      // in memory, unless one of them evicted it (then this stage waits too).
      if (this.evictingUnsettled.size > 0) return undefined;
      const stored = await findStoredGroups(tx, query, matchWindowDays(this.deps.policy));
      if (stored.some((ref) => !workingSet.holdsGroup(ref))) return undefined;
    }
    const nowMs = Math.max(clock().getTime(), basisMs + 1);
    const stage = this.written.begin();
    run.stage = stage;
    const fresh = firstFacts(workingSet, facts);
    // In slices, giving the event loop back between them: the transaction holding the lock meanwhile gets its
    // statements' results and sends the next at once, instead of after the whole apply (one thread runs both). The
    // state after the slices is the state after one apply of them all (the property tests deliver facts in any batches).
    let reevaluated: Reevaluated = { payments: new Set(), entries: new Set(), batches: new Set(), events: new Set() };
    for (const slice of factSlices(facts, AHEAD_SLICE)) {
      addReevaluated(reevaluated, workingSet.apply(slice, nowMs));
      await yieldToIo();
    }
    // Not while payments are pending (see applyUnderLock).
    const verifying = workingSet.pendingPayments() === 0 ? this.nextToVerify() : undefined;
    if (verifying) reevaluated = mergeReevaluated(reevaluated, verifying);
    this.memoryClock = nowMs;
    const rows = await this.prepare(tx, workingSet, reevaluated, nowMs, fresh, stage);
    const evicted = this.evictAfterWrite(workingSet, nowMs);
    return { workingSet, basisMs, nowMs, rows, reevaluated, evicted };
  }

  /** The in-memory stage under the lock, with the working set to itself (as every stage ran before step 8). */
  private async applyUnderLock(
    tx: pg.PoolClient,
    touched: TouchedFacts,
    clock: () => Date,
    run: { nowMs: number; stage?: WrittenStage },
    /** An ahead stage whose facts are in the working set already (`redo`): only the others' are applied, after it. */
    already?: Prepared,
  ): Promise<Prepared> {
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
    // Not before the time the working set was brought to already.
    const now = await advanceReconcileClock(tx, new Date(Math.max(clock().getTime(), already?.nowMs ?? 0)));
    const nowMs = now.getTime();
    run.nowMs = nowMs;
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
      // Stages begun so far may have gone ahead on the set this replaces.
      this.staleThrough = this.started;
      // A restart does not start every late-truth window again.
      workingSet.backdateFinal(await finalSinceStored(tx, FINAL_STATUSES));
      reevaluated = workingSet.everything();
      this.workingSet = workingSet;
      this.everLoaded = true;
      this.unverified = undefined;
      this.loadTimes = {
        reason: reloadReason ?? "start",
        ms: { readMs: applying - reading, applyMs: performance.now() - applying },
      };
    } else {
      // The facts the caller just stored, unless other writers' facts must be read anyway.
      const facts: WorldFacts = already
        ? isEmpty(others)
          ? noFacts()
          : await loadTouchedFacts(tx, others)
        : touched.stored && isEmpty(others)
          ? { decisions: [], paymentDecisions: [], ...touched.stored() }
          : await loadTouchedFacts(tx, mergeTouched(others, touched));
      await reloadEvicted(tx, workingSet, facts, this.deps);
      // Only while this engine is the only writer: another writer's facts come with its rows.
      if (!othersWrote) fresh = firstFacts(workingSet, facts);
      reevaluated = workingSet.apply(facts, nowMs);
      if (already) reevaluated = mergeReevaluated(reevaluated, already.reevaluated);
      // Not while payments are pending: a comparison would evaluate a whole share of them inside this transaction.
      const verifying = workingSet.pendingPayments() === 0 ? this.nextToVerify() : undefined;
      if (verifying) reevaluated = mergeReevaluated(reevaluated, verifying);
    }
    this.memoryClock = nowMs;
    const stage = this.written.begin();
    run.stage = stage;
    const rows = await this.prepare(tx, workingSet, reevaluated, nowMs, fresh, stage);
    const evicted = this.evictAfterWrite(workingSet, nowMs);
    return { workingSet, basisMs: nowMs, nowMs, rows, reevaluated, evicted };
  }

  /**
   * Once its rows are computed, what is final past the late-truth window may leave memory (a bounded look per
   * transaction). Not while keys loaded at start are still to be compared: an evicted group is restored as stored.
   */
  private evictAfterWrite(workingSet: WorkingSet, nowMs: number): boolean {
    if (this.eviction.evictAfterMs === undefined || this.unverifiedLeft()) return false;
    return evictFinal(workingSet, nowMs, this.eviction.evictAfterMs, this.deps, this.written);
  }

  /**
   * The rows the re-evaluated keys say, where they differ from the stored ones (compared with what the transactions
   * before staged or committed; rows no one knows are read back), staged in `stage`. Nothing is written here.
   */
  private async prepare(
    tx: pg.PoolClient,
    workingSet: WorkingSet,
    keys: Reevaluated,
    nowMs: number,
    fresh: Fresh,
    stage: WrittenStage,
  ): Promise<WriteRows> {
    const { policy } = this.deps;
    const desired = new Map<string, DesiredException[]>();

    // Matches, and the grace deadline of unmatched entries (as the sql engine stores them).
    const entries = [...keys.entries].map((key) => ({ key, ...workingSet.entryOf(key) }));
    const unknown = entries.filter(({ key }) => !stage.match(key) && !fresh.entries.has(key));
    const read = await loadMatches(
      tx,
      unknown.map(({ entry }) => entry.seq),
    );
    // Rows a pending transaction before this one staged too are written under the lock; the others may go ahead.
    const free = paymentRows();
    const contended = paymentRows();
    for (const { key, entry, match } of entries) {
      desired.set(`entry:${key}`, workingSet.exceptionsOf(`entry:${key}`));
      const deadline = entry.receivedAt + policy.unmatchedGraceMs;
      const unmatchedDeadline = match.kind === "none" && nowMs < deadline ? deadline : null;
      const before = stage.match(key) ?? read.get(entry.seq);
      const part = stage.matchStagedBefore(key) ? contended : free;
      stage.stageMatch(key, { match, unmatchedDeadline });
      if (sameWrittenMatch(before, match, unmatchedDeadline)) continue;
      part.matchRows.push({ entrySeq: entry.seq, match, unmatchedDeadline });
    }

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

    // Payments: identity and status rows where they differ from the stored ones.
    const ids = [...keys.payments];
    const readPayments = await loadStoredPayments(
      tx,
      ids.filter((id) => !stage.payment(id) && !fresh.payments.has(id)),
    );
    let compared = 0;
    for (const id of ids) {
      // Signatures hash each changed outcome: a stretch long enough to hold up the transaction holding the lock.
      if (++compared % AHEAD_SLICE === 0) await yieldToIo();
      const outcome = workingSet.outcomeOf(id);
      const identity = workingSet.identityOf(id);
      if (!outcome || !identity) continue;
      desired.set(`payment:${id}`, workingSet.exceptionsOf(`payment:${id}`));
      const read = readPayments.get(id);
      const before = stage.payment(id) ?? (read ? { stored: read } : undefined);
      const previous = before?.stored;
      const part = stage.paymentStagedBefore(id) ? contended : free;
      if (previous) part.storedPayments.set(id, previous);
      const change = { outcome, previous };
      part.all.push(change);
      const differs = {
        outcome: !before || !sameOutcome(before, outcome),
        identity: !before || !sameIdentity(before, identity.payment, identity.cancelled),
      };
      if (differs.outcome) part.changed.push(change);
      if (differs.identity) {
        part.changedIdentities.push({ id, payment: identity.payment, cancelled: identity.cancelled });
      }
      stage.stagePayment(id, writtenPayment(before, outcome, identity, differs));
    }

    // Gateway events naming no payment (the working set keys them gateway\0event id; owners say gateway/event id).
    for (const key of keys.events) {
      const event = workingSet.eventOf(key);
      desired.set(`event:${event.gateway}/${event.eventId}`, workingSet.exceptionsOf(`event:${key}`));
    }
    return { free, contended, batchRows, desired };
  }

  /**
   * An ahead stage's uncontended rows (payments, their status changes, matches), sent before the lock: PostgreSQL
   * writes them while the transactions before hold it. In a savepoint, undone if the stage is redone.
   */
  private async writeAhead(tx: pg.PoolClient, prepared: Prepared): Promise<void> {
    const { free } = prepared.rows;
    if (free.matchRows.length === 0 && free.changed.length === 0 && free.changedIdentities.length === 0) return;
    await tx.query("savepoint payrecon_ahead");
    try {
      prepared.writtenAhead = await this.writePayments(tx, free, new Date(prepared.nowMs));
    } catch (error) {
      // Another writer's rows in the way (a standby's write: a row it inserted, a deadlock with it). Its commit moved
      // the clock, so the lock finds this stage stale and redoes it; otherwise the rows are sent under the lock.
      await tx.query("rollback to savepoint payrecon_ahead");
      this.deps.log.info({ err: error }, "rows written ahead undone: written under the reconciliation lock");
    }
  }

  private async writePayments(tx: pg.PoolClient, rows: PaymentRows, now: Date): Promise<WrittenPayments> {
    await saveMatches(tx, rows.matchRows, now);
    const written = await writePaymentRows(
      tx,
      { all: rows.all, changed: rows.changed },
      rows.changedIdentities,
      rows.storedPayments,
      now,
    );
    await insertStatusRows(tx, written, now, this.deps);
    return written;
  }

  /**
   * Sends the prepared rows under the lock. Exceptions are compared here, not ahead: operators change their rows
   * without the lock, so they are read in this transaction after it is taken, as they stand when it writes.
   */
  private async send(tx: pg.PoolClient, prepared: Prepared, now: Date) {
    const { policy } = this.deps;
    const { rows, writtenAhead } = prepared;
    const written = writtenAhead ? [writtenAhead] : [await this.writePayments(tx, rows.free, now)];
    written.push(await this.writePayments(tx, rows.contended, now));
    await saveBatchStates(tx, rows.batchRows);
    const exceptionChanges = await syncExceptions(
      tx,
      rows.desired,
      now,
      policy.priorityTiers,
      policy.priorityScale,
      exceptionFindings(this.deps),
    );
    // The totals rows every transaction updates: under the lock only.
    await applyTotals(tx, sumTotals(written.flatMap((part) => part.totals)));
    const parts = [rows.free, rows.contended];
    return {
      statusChanges: written.flatMap((part) => part.statusChanges),
      changed:
        exceptionChanges.length +
        parts.reduce(
          (sum, part) => sum + part.matchRows.length + part.changed.length + part.changedIdentities.length,
          0,
        ),
    };
  }
}

/** A reconciliation's in-memory stage done: the working set it applied to, at what time, from what clock. */
interface Prepared {
  workingSet: WorkingSet;
  /** The reconcile clock the stage started from: the lock must find it there. */
  basisMs: number;
  nowMs: number;
  rows: WriteRows;
  /** The keys its facts re-evaluated (compared again if it is redone). */
  reevaluated: Reevaluated;
  /** Whether it evicted groups (a redo then loads the working set whole: their keys are not in memory any more). */
  evicted: boolean;
  /** What `writeAhead` sent of `rows.free` (in savepoint payrecon_ahead), if anything. */
  writtenAhead?: WrittenPayments;
}

function noFacts(): WorldFacts {
  return { versions: [], events: [], batches: [], entries: [], decisions: [], paymentDecisions: [] };
}

/** The rows a transaction writes, computed before its statements. */
interface WriteRows {
  /** Payments and matches no pending transaction before this one staged: they may be written before the lock. */
  free: PaymentRows;
  /** Those a pending transaction before this one staged too: written under the lock, when it has ended. */
  contended: PaymentRows;
  batchRows: Parameters<typeof saveBatchStates>[1];
  desired: Map<string, DesiredException[]>;
}

/** Payment rows (with their status changes and installments) and match rows to write. */
interface PaymentRows {
  matchRows: Array<{ entrySeq: number; match: EntryMatch; unmatchedDeadline: number | null }>;
  all: PaymentChange[];
  changed: PaymentChange[];
  changedIdentities: Array<{ id: string; payment: ExpectedPayment; cancelled: boolean }>;
  storedPayments: Map<string, StoredPayment>;
}

function paymentRows(): PaymentRows {
  return { matchRows: [], all: [], changed: [], changedIdentities: [], storedPayments: new Map() };
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

/**
 * Loads back, inside the transaction, every evicted group the facts could touch (until none is named): PostgreSQL
 * finds them (memory keeps nothing of an evicted group), less the groups in memory.
 */
async function reloadEvicted(tx: pg.PoolClient, workingSet: WorkingSet, facts: WorldFacts, deps: ReconcileDeps) {
  const windowDays = matchWindowDays(deps.policy);
  // Each key loaded once: a stored row's key that names no group in memory after its restore cannot repeat it.
  const loadedRefs = new Set<string>();
  for (;;) {
    const query = workingSet.reloadQuery(facts);
    if (!query) return;
    const refs = (await findStoredGroups(tx, query, windowDays)).filter(
      (ref) => !workingSet.holdsGroup(ref) && !loadedRefs.has(ref),
    );
    if (refs.length === 0) return;
    for (const ref of refs) loadedRefs.add(ref);
    const loaded = await loadEvictedGroups(tx, refs);
    workingSet.restore(loaded.groups, loaded);
    deps.metrics.workingSetReloads.inc(loaded.groups.reduce((sum, group) => sum + group.paymentIds.length, 0));
  }
}

function evictFinal(
  workingSet: WorkingSet,
  nowMs: number,
  evictAfterMs: number,
  deps: ReconcileDeps,
  written: WrittenRows,
): boolean {
  const before = workingSet.memoryCounts().evictedPayments;
  const refs = workingSet.evictable(nowMs, evictAfterMs, EVICTION_LOOK);
  for (const group of workingSet.evict(refs)) written.forget(group.paymentIds, group.entryKeys);
  const counts = workingSet.memoryCounts();
  if (counts.evictedPayments > before) deps.metrics.workingSetEvictions.inc(counts.evictedPayments - before);
  const items = deps.metrics.workingSetItems;
  items.set({ kind: "payment", state: "open" }, counts.payments);
  items.set({ kind: "payment", state: "evicted" }, counts.evictedPayments);
  items.set({ kind: "bank_entry", state: "open" }, counts.entries);
  items.set({ kind: "bank_entry", state: "evicted" }, counts.evictedEntries);
  return refs.length > 0;
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

/** Facts applied ahead per slice: a few milliseconds of the event loop each. */
const AHEAD_SLICE = 250;

/** The facts in slices of at most `size` (one slice, the same object, when they fit; at least one, for time). */
function factSlices(facts: WorldFacts, size: number): WorldFacts[] {
  const fields = ["versions", "events", "batches", "entries", "decisions", "paymentDecisions"] as const;
  const total = fields.reduce((sum, field) => sum + facts[field].length, 0);
  if (total <= size) return [facts];
  const slices: WorldFacts[] = [];
  let current = noFacts();
  let count = 0;
  for (const field of fields) {
    for (const fact of facts[field]) {
      (current[field] as unknown[]).push(fact);
      if (++count === size) {
        slices.push(current);
        current = noFacts();
        count = 0;
      }
    }
  }
  if (count > 0) slices.push(current);
  return slices;
}

/** Lets I/O callbacks waiting behind a long stretch of work run (setImmediate runs after the poll phase). */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function addReevaluated(into: Reevaluated, from: Reevaluated): void {
  for (const key of from.payments) into.payments.add(key);
  for (const key of from.entries) into.entries.add(key);
  for (const key of from.batches) into.batches.add(key);
  for (const key of from.events) into.events.add(key);
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
