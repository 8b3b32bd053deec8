import { type BatchState, settleBatch } from "./batchSettlement.js";
import { type DesiredException, exceptionKey } from "./exceptions.js";
import { effectiveExpected } from "./expectedVersions.js";
import {
  type EntryMatch,
  type MatchTarget,
  matchEntry,
  sameEntryMatch,
  sameTarget,
  type TargetLookup,
} from "./matching.js";
import { type BatchView, type PaymentOutcome, reconcilePayment } from "./paymentStatus.js";
import { referenceKey } from "./references.js";
import { foldDecisions } from "./manualDecisions.js";
import type {
  BankFact,
  BatchFact,
  ExpectedVersion,
  GatewayFact,
  ManualDecision,
  PaymentDecision,
  Policy,
} from "./types.js";
import { toleranceFor } from "./types.js";
import { type EvictedGroup, evictedGroup, type MatchShape, type ReloadQuery, type StoredGroup } from "./evicted.js";
import {
  batchExceptions,
  batchTargetKey,
  entryExceptions,
  entryKey,
  paymentExceptions,
  paymentTarget,
  unmatchedEvent,
  type WorldFacts,
  type WorldResult,
} from "./world.js";

/**
 * Engine v2's state (docs/architecture.md §3): every fact in memory with the indexes matching needs,
 * and the outcomes they imply, kept up to date one batch of facts at a time. `apply` re-evaluates
 * only what the new facts (and the passing of time) can change, following the dependency rules of
 * the architecture page; after every `apply` the state equals `reconcileWorld` over all facts applied
 * so far (property-tested). Pure: no I/O, time is a parameter.
 */

type VersionFact = ExpectedVersion & { paymentId: string };

/** Above this many values a key's values are a Set; below, an array (a Set of one costs ~4× the memory). */
const SMALL = 8;

/**
 * Keys to sets of values, in insertion order like a Set. Most keys hold one or two values (a payment's reference,
 * an amount): those are small arrays, so a million open payments do not cost a million Sets.
 */
class MultiIndex<V> {
  private readonly map = new Map<string, V[] | Set<V>>();

  get(key: string): Iterable<V> | undefined {
    return this.map.get(key);
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  add(key: string, value: V): void {
    const values = this.map.get(key);
    if (!values) this.map.set(key, [value]);
    else if (values instanceof Set) values.add(value);
    else if (!values.includes(value)) {
      if (values.length < SMALL) values.push(value);
      else this.map.set(key, new Set([...values, value]));
    }
  }

  /** Every value under `key`. */
  drop(key: string): void {
    this.map.delete(key);
  }

  delete(key: string, value: V): void {
    const values = this.map.get(key);
    if (!values) return;
    if (values instanceof Set) values.delete(value);
    else {
      const at = values.indexOf(value);
      if (at >= 0) values.splice(at, 1);
    }
    if ((values instanceof Set ? values.size : values.length) === 0) this.map.delete(key);
  }
}

/** Adds `value` to the values under `key`. */
function addTo<V>(index: MultiIndex<V>, key: string, value: V): void {
  index.add(key, value);
}

function removeFrom<V>(index: MultiIndex<V>, key: string, value: V): void {
  index.delete(key, value);
}

/** +1 / −1 on a multiset; returns whether the key's presence flipped. */
function count(counts: Map<string, number>, key: string, delta: 1 | -1): boolean {
  const before = counts.get(key) ?? 0;
  const after = before + delta;
  if (after === 0) counts.delete(key);
  else counts.set(key, after);
  return (before === 0) !== (after === 0);
}

const amountKey = (currency: string, amountMinor: number) => `${currency}|${amountMinor}`;

/** The amounts a line can match by: its own, and its instructed amount in the instructed currency (fx.ts). */
function entryAmountKeys(entry: BankFact): string[] {
  const own = amountKey(entry.currency, entry.amountMinor);
  const instructed =
    entry.instructedCurrency && entry.instructedAmountMinor && entry.instructedCurrency !== entry.currency
      ? amountKey(entry.instructedCurrency, entry.instructedAmountMinor)
      : undefined;
  return instructed === undefined ? [own] : [own, instructed];
}

/**
 * The instants at which time alone changes something, smallest first: a binary heap with lazy deletion
 * (an owner's entry is current only while `current` still holds that instant for it).
 */
class Deadlines {
  private readonly heap: Array<{ at: number; owner: string }> = [];
  private readonly current = new Map<string, number>();

  set(owner: string, at: number | null): void {
    if (at === null) {
      this.current.delete(owner);
      return;
    }
    if (this.current.get(owner) === at) return;
    this.current.set(owner, at);
    this.heap.push({ at, owner });
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.heap[parent]!.at <= this.heap[i]!.at) break;
      const moved = this.heap[i]!;
      this.heap[i] = this.heap[parent]!;
      this.heap[parent] = moved;
      i = parent;
    }
  }

  /** Removes and returns the owners whose deadline is at or before `to`. */
  due(to: number): string[] {
    const out: string[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at <= to) {
      const top = this.heap[0]!;
      const last = this.heap.pop()!;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        let i = 0;
        for (;;) {
          const [l, r] = [2 * i + 1, 2 * i + 2];
          let smallest = i;
          if (l < this.heap.length && this.heap[l]!.at < this.heap[smallest]!.at) smallest = l;
          if (r < this.heap.length && this.heap[r]!.at < this.heap[smallest]!.at) smallest = r;
          if (smallest === i) break;
          [this.heap[smallest], this.heap[i]] = [this.heap[i]!, this.heap[smallest]!];
          i = smallest;
        }
      }
      if (this.current.get(top.owner) === top.at) {
        this.current.delete(top.owner);
        out.push(top.owner);
      }
    }
    return out;
  }
}

function targetAmountKeys(target: MatchTarget): string[] {
  if (target.kind === "batch") return [amountKey(target.currency, Math.abs(target.netMinor))];
  return [...new Set([target.amountMinor, ...target.installments.map((part) => part.amountMinor)])].map((amount) =>
    amountKey(target.currency, amount),
  );
}

function targetRefKey(target: MatchTarget): string {
  return target.kind === "payment" ? target.referenceKey : target.batchIdKey;
}

function entryRefKeys(entry: BankFact): string[] {
  return [...new Set([...(entry.endToEndId ? [referenceKey(entry.endToEndId)] : []), ...entry.tokens])];
}

function versionKey(version: VersionFact): string {
  return `${version.paymentId}\u0000${JSON.stringify(version.payment)}\u0000${version.cancelled}\u0000${version.version}`;
}

function batchIsBetter(a: BatchFact, b: BatchFact): boolean {
  return a.occurredAt < b.occurredAt || (a.occurredAt === b.occurredAt && a.eventId < b.eventId);
}

/** A set that keeps nothing: `load` re-evaluates everything, so what each step marks is not kept. */
class DiscardSet<T> extends Set<T> {
  override add(_value: T): this {
    return this;
  }
}
const DISCARD: Set<string> = new DiscardSet<string>();

/** What an `apply` marks to re-evaluate. */
interface Dirty {
  payments: Set<string>;
  targets: Set<string>;
  entries: Set<string>;
  batches: Set<string>;
  events: Set<string>;
}

/** What one `apply` re-evaluated: payment ids, entry keys, batch keys, event keys (`gateway\u0000event id`). */
export interface Reevaluated {
  payments: Set<string>;
  entries: Set<string>;
  batches: Set<string>;
  events: Set<string>;
}

export class WorkingSet {
  // The facts, one per natural key (the same choice as distinctFacts).
  /** Each payment's versions, one per versionKey (found by comparing: a payment has a few). */
  private readonly versionsByPayment = new Map<string, VersionFact[]>();
  private readonly events = new Map<string, GatewayFact>();
  private readonly eventsByRef = new MultiIndex<string>();
  private readonly batches = new Map<string, BatchFact>();
  private readonly batchesByRef = new MultiIndex<string>();
  private readonly entries = new Map<string, BankFact>();
  private readonly entriesByRef = new MultiIndex<string>();
  private readonly entriesByAmount = new MultiIndex<string>();
  /** How many entries name each key, and how many batches list each reference: settlesByReference. */
  private readonly tokenCounts = new Map<string, number>();
  private readonly batchedRefCounts = new Map<string, number>();
  /** Operators' decisions by entry key, by arrival number. */
  private readonly decisions = new Map<string, Map<number, ManualDecision>>();
  /** Write-off / reopen decisions by payment id, by arrival number. */
  private readonly paymentDecisions = new Map<string, Map<number, PaymentDecision>>();

  // What matching sees.
  private readonly targets = new Map<string, MatchTarget>();
  private readonly targetsByRef = new MultiIndex<string>();
  private readonly targetsByAmount = new MultiIndex<string>();
  /** Payments by reference key, with their gateway: for events and batches. */
  private readonly paymentRefs = new Map<string, { gateway: string; referenceKey: string }>();
  private readonly paymentsByRef = new MultiIndex<string>();

  // What the facts imply.
  private readonly matches = new Map<string, EntryMatch>();
  private readonly entriesByMatch = new MultiIndex<string>();
  private readonly batchStates = new Map<string, BatchState>();
  private readonly batchViews = new Map<string, BatchView>();
  private readonly outcomes = new Map<string, PaymentOutcome>();
  private readonly exceptionsByOwner = new Map<string, DesiredException[]>();
  private readonly deadlines = new Deadlines();
  /** While `load` evaluates: every owner for the first time, so there is no exception or deadline of it to drop. */
  private loading = false;
  private now = Number.NEGATIVE_INFINITY;
  /**
   * Payments `load` indexed and matched but has not evaluated yet (docs/architecture.md §4 step 3 "Restart"): the
   * facts of each are as loaded (a fact that touches one evaluates it), so its outcome is the one at `loadedAt`,
   * worked out when asked for (`outcomeOf`), in slices (`settle`), or by `apply` when a fact touches it.
   */
  private readonly pending = new Set<string>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  /** Stored final-since times `backdateFinal` was given while payments were pending: applied as they are settled. */
  private storedFinal: Map<string, number> | undefined;

  private readonly lookup: TargetLookup = {
    byReference: (key) => [...(this.targetsByRef.get(key) ?? [])].map((id) => this.targets.get(id)!),
    amountCandidates: (entry) =>
      [...new Set(entryAmountKeys(entry).flatMap((amount) => [...(this.targetsByAmount.get(amount) ?? [])]))].map(
        (id) => this.targets.get(id)!,
      ),
  };

  constructor(private readonly policy: Policy) {}

  /**
   * Applies a batch of facts (any order, duplicates allowed) at `now`, which never goes back; returns
   * what was re-evaluated (a superset of what changed), for the writer to compare with what it wrote.
   */
  apply(facts: Partial<WorldFacts>, now: number): Reevaluated {
    const dirty = {
      payments: new Set<string>(),
      targets: new Set<string>(),
      entries: new Set<string>(),
      batches: new Set<string>(),
      events: new Set<string>(),
    };
    this.addFacts(facts, dirty);
    // Also when time stands still: a payment settled since the last apply may have a deadline already passed.
    this.now = Math.max(this.now, now);
    this.timePassed(this.now, dirty);

    for (const id of dirty.targets) this.refreshTarget(id, dirty);
    for (const key of dirty.entries) this.rematch(key, dirty);
    for (const key of dirty.batches) this.resettle(key, dirty);
    for (const id of dirty.payments) this.evaluate(id);
    this.noteFinal(dirty.payments);
    for (const key of dirty.entries) this.entryOwned(key);
    for (const key of dirty.events) this.eventOwned(key);
    this.settledAll();
    return { payments: dirty.payments, entries: dirty.entries, batches: dirty.batches, events: dirty.events };
  }

  /**
   * Loads facts into an empty working set at `now` (a restart, a standby's takeover): the state `apply` of the same
   * facts reaches (property-tested), built in one pass — every fact indexed, then each target built once, each entry
   * matched once, each batch settled once — without the bookkeeping of what each fact touches that `apply` needs.
   * Payments are left pending: each is evaluated at `now` when first asked for, touched, or settled (`settle`), so a
   * restart is ready before a million outcomes are worked out. A writer compares every key after it (`keyLists`).
   */
  load(facts: Partial<WorldFacts>, now: number): void {
    this.addBeforeLoad(facts);
    const dirty = { payments: DISCARD, targets: DISCARD, entries: DISCARD, batches: DISCARD, events: DISCARD };
    this.now = now;

    this.loading = true;
    try {
      this.evaluateLoaded(dirty);
    } finally {
      this.loading = false;
    }
  }

  private evaluateLoaded(dirty: Dirty): void {
    // Every target once; no entry is matched yet, so none needs re-matching because of it.
    for (const [paymentId, versions] of this.versionsByPayment)
      this.placeTarget(`payment:${paymentId}`, this.loadedTargetOf(paymentId, versions));
    for (const key of this.batches.keys()) this.placeTarget(`batch:${key}`, this.batchTargetOf(key));
    for (const key of this.entries.keys()) this.rematch(key, dirty);
    for (const key of this.batches.keys()) this.resettle(key, dirty);
    // Evaluated later, at this instant (settleOne); the outcome of no entry, batch or event depends on them.
    this.loadedAt = this.now;
    // Only payments with a version in force: evaluating one without is a no-op at a load.
    for (const paymentId of this.paymentRefs.keys()) this.pending.add(paymentId);
    for (const key of this.entries.keys()) this.entryOwned(key);
    for (const [key, event] of this.events) this.eventOwned(key, event);
  }

  /**
   * `load`'s paymentTargetOf: the payment's first reference and target, in a set with no reference of it yet (so no
   * event to re-check either), its versions given (a million lookups fewer).
   */
  private loadedTargetOf(paymentId: string, versions: VersionFact[]): MatchTarget | undefined {
    const effective = effectiveExpected(versions);
    if (!effective) return undefined;
    const { payment } = effective;
    const ref = referenceKey(payment.reference);
    this.paymentRefs.set(paymentId, { gateway: payment.gateway, referenceKey: ref });
    addTo(this.paymentsByRef, ref, paymentId);
    const named = this.tokenCounts.has(ref) || this.batchedRefCounts.has(ref);
    return paymentTarget(paymentId, payment, effective.cancelled, named, ref);
  }

  /**
   * Facts into a working set that `load` has not evaluated yet, in any number of parts: a loader indexes each page
   * of facts while PostgreSQL reads the next, then calls `load` with the rest (the same state as one `load` of all).
   */
  addBeforeLoad(facts: Partial<WorldFacts>): void {
    if (this.now !== Number.NEGATIVE_INFINITY) throw new Error("WorkingSet.load: only into an empty working set");
    this.addFacts(facts, { payments: DISCARD, targets: DISCARD, entries: DISCARD, batches: DISCARD, events: DISCARD });
  }

  /** Every key the state holds: what a writer compares once after loading the working set whole. */
  everything(): Reevaluated {
    const keys = this.keyLists();
    return {
      payments: new Set(keys.payments),
      entries: new Set(keys.entries),
      batches: new Set(keys.batches),
      events: new Set(keys.events),
    };
  }

  /** `everything` as lists (a writer takes a share at a time: no Set of a million keys built to be copied). */
  keyLists(): { payments: string[]; entries: string[]; batches: string[]; events: string[] } {
    return {
      payments: [...this.paymentRefs.keys()],
      entries: [...this.entries.keys()],
      batches: [...this.batches.keys()],
      events: [...this.events.keys()],
    };
  }

  outcomeOf(paymentId: string): PaymentOutcome | undefined {
    if (this.pending.has(paymentId)) this.catchUp(paymentId);
    return this.outcomes.get(paymentId);
  }

  /** How many payments `load` left to evaluate. */
  pendingPayments(): number {
    return this.pending.size;
  }

  /** Whether `load` left the payment to evaluate still (`result` looks without evaluating it). */
  isPending(paymentId: string): boolean {
    return this.pending.has(paymentId);
  }

  /**
   * Evaluates up to `budget` payments `load` left pending, at the load's instant, as `load` would have: their
   * deadlines since then are due at the next `apply`, which re-evaluates and returns them (a slice between
   * reconciliations, so that deadlines are not held back longer than it takes to settle them all). Returns how many.
   */
  settle(budget: number): number {
    let done = 0;
    for (const paymentId of this.pending) {
      if (done >= budget) break;
      this.settleOne(paymentId);
      done++;
    }
    this.settledAll();
    return done;
  }

  /** A pending payment's outcome at the load's instant, its deadline and final-since noted as `load` would have. */
  private settleOne(paymentId: string): void {
    const now = this.now;
    this.now = this.loadedAt;
    this.loading = true;
    try {
      this.evaluate(paymentId);
      this.noteFinal([paymentId]);
    } finally {
      this.now = now;
      this.loading = false;
    }
  }

  /** A pending payment settled and brought to now (a deadline passed since the load), for a caller asking for it. */
  private catchUp(paymentId: string): void {
    this.settleOne(paymentId);
    const deadline = this.outcomes.get(paymentId)?.nextDeadline ?? null;
    if (deadline !== null && deadline <= this.now) {
      this.evaluate(paymentId);
      this.noteFinal([paymentId]);
    }
    this.settledAll();
  }

  /** Once nothing is pending: final-since times in order again (settled payments were noted out of order). */
  private settledAll(): void {
    if (this.pending.size > 0 || this.storedFinal === undefined) return;
    this.sortFinal(this.storedFinal);
    this.storedFinal = undefined;
  }

  /** The version in force and whether it cancels the payment. */
  identityOf(paymentId: string): ReturnType<typeof effectiveExpected> {
    return effectiveExpected(this.versionsOf(paymentId));
  }

  entryOf(key: string): { entry: BankFact; match: EntryMatch } {
    return { entry: this.entries.get(key)!, match: this.matches.get(key)! };
  }

  batchOf(key: string): { batch: BatchFact; state: BatchState } {
    return { batch: this.batches.get(key)!, state: this.batchStates.get(key)! };
  }

  eventOf(key: string): GatewayFact {
    return this.events.get(key)!;
  }

  /** Owners: `payment:<id>`, `entry:<entryKey>`, `batch:<batchKey>`, `event:<gateway>\u0000<event id>`. */
  exceptionsOf(owner: string): DesiredException[] {
    if (this.pending.size > 0 && owner.startsWith("payment:")) this.outcomeOf(owner.slice("payment:".length));
    return this.exceptionsByOwner.get(owner) ?? [];
  }

  /** The same shape as reconcileWorld's result. */
  result(): WorldResult {
    const exceptions = new Map<string, DesiredException>();
    for (const owned of this.exceptionsByOwner.values()) {
      for (const exception of owned) exceptions.set(exceptionKey(exception), exception);
    }
    // Pending payments as they are now, without settling them (looking changes nothing).
    const outcomes = new Map(this.outcomes);
    for (const paymentId of this.pending) {
      const outcome = this.outcomeAt(paymentId, this.now);
      if (!outcome) continue;
      outcomes.set(paymentId, outcome);
      for (const exception of paymentExceptions(outcome)) exceptions.set(exceptionKey(exception), exception);
    }
    return {
      payments: outcomes,
      entryMatches: new Map(this.matches),
      batchStates: new Map(this.batchStates),
      exceptions,
    };
  }

  // ---------------------------------------------------------------- facts in

  private addFacts(facts: Partial<WorldFacts>, dirty: Dirty): void {
    for (const version of facts.versions ?? []) this.addVersion(version, dirty);
    for (const event of facts.events ?? []) this.addEvent(event, dirty);
    for (const batch of facts.batches ?? []) this.addBatch(batch, dirty);
    for (const entry of facts.entries ?? []) this.addEntry(entry, dirty);
    for (const decision of facts.decisions ?? []) this.addDecision(decision, dirty);
    for (const decision of facts.paymentDecisions ?? []) this.addPaymentDecision(decision, dirty);
  }

  private addVersion(version: VersionFact, dirty: { targets: Set<string> }): void {
    const known = this.versionsByPayment.get(version.paymentId);
    if (!known) this.versionsByPayment.set(version.paymentId, [version]);
    else {
      const key = versionKey(version);
      const at = known.findIndex((other) => versionKey(other) === key);
      if (at >= 0 && known[at]!.seq <= version.seq) return;
      if (at >= 0) known[at] = version;
      else known.push(version);
    }
    dirty.targets.add(`payment:${version.paymentId}`);
  }

  private addEvent(event: GatewayFact, dirty: { payments: Set<string>; events: Set<string> }): void {
    const key = `${event.gateway}\u0000${event.eventId}`;
    const current = this.events.get(key);
    if (current && current.seq <= event.seq) return;
    if (current) this.touchEventRef(current.referenceKey, key, dirty, false);
    this.events.set(key, event);
    this.touchEventRef(event.referenceKey, key, dirty, true);
    dirty.events.add(key);
  }

  private touchEventRef(refKey: string, key: string, dirty: { payments: Set<string> }, add: boolean): void {
    if (add) addTo(this.eventsByRef, refKey, key);
    else removeFrom(this.eventsByRef, refKey, key);
    for (const paymentId of this.paymentsByRef.get(refKey) ?? []) dirty.payments.add(paymentId);
  }

  private addBatch(
    batch: BatchFact,
    dirty: { targets: Set<string>; batches: Set<string>; payments: Set<string> },
  ): void {
    const key = batchTargetKey(batch);
    const current = this.batches.get(key);
    if (current && !batchIsBetter(batch, current)) return;
    if (current) {
      this.countBatchedRefs(current, -1, dirty);
      // The replaced batch's payments lose it.
      for (const ref of current.referenceKeys) {
        for (const paymentId of this.paymentsByRef.get(ref) ?? []) dirty.payments.add(paymentId);
      }
    }
    this.batches.set(key, batch);
    this.countBatchedRefs(batch, 1, dirty);
    dirty.targets.add(`batch:${key}`);
    dirty.batches.add(key);
  }

  private countBatchedRefs(batch: BatchFact, delta: 1 | -1, dirty: { targets: Set<string> }): void {
    const key = batchTargetKey(batch);
    for (const ref of new Set(batch.referenceKeys)) {
      if (delta > 0) addTo(this.batchesByRef, ref, key);
      else removeFrom(this.batchesByRef, ref, key);
      // A payment listed in a batch settles by reference: no amount candidate any more (rule 3).
      if (count(this.batchedRefCounts, ref, delta)) this.targetsNamed(ref, dirty);
    }
  }

  private addEntry(
    entry: BankFact,
    dirty: { targets: Set<string>; entries: Set<string>; payments: Set<string>; batches: Set<string> },
  ): void {
    const key = entryKey(entry);
    const current = this.entries.get(key);
    if (current && current.seq <= entry.seq) return;
    if (current) {
      this.indexEntry(key, current, -1, dirty);
      // The kept copy's arrival time counts for its side (a tentative match's PENDING_GRACE runs from it).
      const side = this.matches.get(key);
      if (side?.kind === "payment") dirty.payments.add(side.paymentId);
      if (side?.kind === "batch") dirty.batches.add(side.batchKey);
    }
    this.entries.set(key, entry);
    this.indexEntry(key, entry, 1, dirty);
    dirty.entries.add(key);
  }

  /** A decision changes only its entry's match (rule 5 then carries it to the payments). */
  private addDecision(decision: ManualDecision, dirty: { entries: Set<string> }): void {
    const key = entryKey(decision);
    const known = this.decisions.get(key) ?? new Map<number, ManualDecision>();
    if (known.has(decision.seq)) return;
    known.set(decision.seq, decision);
    this.decisions.set(key, known);
    if (this.entries.has(key)) dirty.entries.add(key);
  }

  /** A write-off or reopen changes only its payment's outcome. */
  private addPaymentDecision(decision: PaymentDecision, dirty: { payments: Set<string> }): void {
    const known = this.paymentDecisions.get(decision.paymentId) ?? new Map<number, PaymentDecision>();
    if (known.has(decision.seq)) return;
    known.set(decision.seq, decision);
    this.paymentDecisions.set(decision.paymentId, known);
    dirty.payments.add(decision.paymentId);
  }

  private indexEntry(key: string, entry: BankFact, delta: 1 | -1, dirty: { targets: Set<string> }): void {
    for (const ref of entryRefKeys(entry)) {
      if (delta > 0) addTo(this.entriesByRef, ref, key);
      else removeFrom(this.entriesByRef, ref, key);
    }
    for (const amount of entryAmountKeys(entry)) {
      if (delta > 0) addTo(this.entriesByAmount, amount, key);
      else removeFrom(this.entriesByAmount, amount, key);
    }
    // A target named by an entry's tokens settles by reference: no amount candidate any more (rule 2).
    for (const token of new Set(entry.tokens)) {
      if (count(this.tokenCounts, token, delta)) this.targetsNamed(token, dirty);
    }
  }

  /** Every target whose own key is `key`, and every payment with that reference: their targets change. */
  private targetsNamed(key: string, dirty: { targets: Set<string> }): void {
    for (const id of this.targetsByRef.get(key) ?? []) dirty.targets.add(id);
    for (const paymentId of this.paymentsByRef.get(key) ?? []) dirty.targets.add(`payment:${paymentId}`);
  }

  /** Rule 6: what time alone changes up to `to` (payments' next deadlines, entries' and events' grace). */
  private timePassed(to: number, dirty: { payments: Set<string>; entries: Set<string>; events: Set<string> }): void {
    for (const owner of this.deadlines.due(to)) {
      const [kind, key] = [owner.slice(0, owner.indexOf(":")), owner.slice(owner.indexOf(":") + 1)];
      if (kind === "payment") dirty.payments.add(key);
      else if (kind === "entry") dirty.entries.add(key);
      else dirty.events.add(key);
    }
  }

  // ---------------------------------------------------------------- what matching sees

  private refreshTarget(
    id: string,
    dirty: { payments: Set<string>; entries: Set<string>; batches: Set<string>; events: Set<string> },
  ): void {
    const old = this.targets.get(id);
    const next = id.startsWith("payment:") ? this.paymentTargetOf(id.slice(8), dirty) : this.batchTargetOf(id.slice(6));
    if (sameTarget(old, next)) return;
    for (const target of [old, next]) {
      if (!target) continue;
      // Rule 1: every entry that names it or could match it by amount.
      for (const key of this.entriesByRef.get(targetRefKey(target)) ?? []) dirty.entries.add(key);
      for (const amount of targetAmountKeys(target)) {
        for (const key of this.entriesByAmount.get(amount) ?? []) dirty.entries.add(key);
      }
    }
    if (old) {
      removeFrom(this.targetsByRef, targetRefKey(old), id);
      for (const amount of targetAmountKeys(old)) removeFrom(this.targetsByAmount, amount, id);
    }
    if (next) {
      this.targets.set(id, next);
      addTo(this.targetsByRef, targetRefKey(next), id);
      for (const amount of targetAmountKeys(next)) addTo(this.targetsByAmount, amount, id);
    } else {
      this.targets.delete(id);
    }
  }

  /** `load`'s refreshTarget: the first target of `id`, indexed, with nothing matched against it yet. */
  /** A target into the indexes of a set that has none yet (load): the id's own strings, not slices of it, are kept. */
  private placeTarget(id: string, next: MatchTarget | undefined): void {
    if (!next) return;
    this.targets.set(id, next);
    addTo(this.targetsByRef, targetRefKey(next), id);
    for (const amount of targetAmountKeys(next)) addTo(this.targetsByAmount, amount, id);
  }

  private paymentTargetOf(
    paymentId: string,
    dirty: { payments: Set<string>; events: Set<string> },
  ): MatchTarget | undefined {
    dirty.payments.add(paymentId);
    const effective = effectiveExpected(this.versionsOf(paymentId));
    const old = this.paymentRefs.get(paymentId);
    const ref = effective
      ? { gateway: effective.payment.gateway, referenceKey: referenceKey(effective.payment.reference) }
      : undefined;
    if (old?.gateway !== ref?.gateway || old?.referenceKey !== ref?.referenceKey) {
      // Rule 4: events with the old or new reference change whether they are unmatched.
      for (const side of [old, ref]) {
        for (const key of side ? (this.eventsByRef.get(side.referenceKey) ?? []) : []) dirty.events.add(key);
      }
      if (old) removeFrom(this.paymentsByRef, old.referenceKey, paymentId);
      if (ref) {
        addTo(this.paymentsByRef, ref.referenceKey, paymentId);
        this.paymentRefs.set(paymentId, ref);
      } else this.paymentRefs.delete(paymentId);
    }
    if (!effective || !ref) return undefined;
    const named = this.tokenCounts.has(ref.referenceKey) || this.batchedRefCounts.has(ref.referenceKey);
    return paymentTarget(paymentId, effective.payment, effective.cancelled, named);
  }

  private batchTargetOf(key: string): MatchTarget | undefined {
    const batch = this.batches.get(key);
    if (!batch) return undefined;
    return {
      kind: "batch",
      key,
      batchIdKey: batch.batchKey,
      currency: batch.currency,
      netMinor: batch.netMinor,
      expectedArrival: batch.expectedArrival,
      settlesByReference: this.tokenCounts.has(batch.batchKey),
    };
  }

  private versionsOf(paymentId: string): VersionFact[] {
    return this.versionsByPayment.get(paymentId) ?? [];
  }

  // ---------------------------------------------------------------- what the facts imply

  private rematch(key: string, dirty: { payments: Set<string>; batches: Set<string> }): void {
    const decided = this.decisions.get(key);
    const match = matchEntry(
      this.entries.get(key)!,
      this.lookup,
      this.policy,
      foldDecisions(decided ? [...decided.values()] : undefined),
    );
    const old = this.matches.get(key);
    if (sameEntryMatch(old, match)) return;
    // Rule 5: the old and the new side are re-evaluated.
    for (const side of [old, match]) {
      if (side?.kind === "payment") dirty.payments.add(side.paymentId);
      if (side?.kind === "batch") dirty.batches.add(side.batchKey);
    }
    if (old) removeFrom(this.entriesByMatch, matchOwner(old), key);
    this.matches.set(key, match);
    addTo(this.entriesByMatch, matchOwner(match), key);
  }

  private resettle(key: string, dirty: { payments: Set<string> }): void {
    const batch = this.batches.get(key)!;
    const matched = [...(this.entriesByMatch.get(`batch:${key}`) ?? [])].map((entryKey) => this.entries.get(entryKey)!);
    const state = settleBatch(batch, matched, toleranceFor(this.policy, batch.gateway));
    this.batchStates.set(key, state);
    const view: BatchView = {
      batch,
      state: state.state,
      settledOn: state.state === "settled" ? state.settledOn : null,
    };
    const old = this.batchViews.get(key);
    this.batchViews.set(key, view);
    this.own(`batch:${key}`, batchExceptions(batch, state, this.policy));
    if (old && old.batch === view.batch && old.state === view.state && old.settledOn === view.settledOn) return;
    for (const ref of new Set(batch.referenceKeys)) {
      for (const paymentId of this.paymentsByRef.get(ref) ?? []) dirty.payments.add(paymentId);
    }
  }

  private evaluate(paymentId: string): void {
    if (this.pending.size > 0) this.pending.delete(paymentId);
    // One owner string per payment (a million at a load): each new one is hashed again by every map it meets.
    const owner = `payment:${paymentId}`;
    const outcome = this.outcomeAt(paymentId, this.now, owner);
    this.deadline(owner, outcome?.nextDeadline ?? null);
    if (outcome) {
      this.outcomes.set(paymentId, outcome);
      this.own(owner, paymentExceptions(outcome));
    } else {
      this.outcomes.delete(paymentId);
      this.exceptionsByOwner.delete(owner);
    }
  }

  /** A payment's outcome at `now` from the facts held; stores nothing. */
  private outcomeAt(paymentId: string, now: number, owner = `payment:${paymentId}`): PaymentOutcome | undefined {
    const ref = this.paymentRefs.get(paymentId);
    return ref
      ? reconcilePayment(
          {
            paymentId,
            versions: this.versionsOf(paymentId),
            events: Array.from(this.eventsByRef.get(ref.referenceKey) ?? [], (key) => this.events.get(key)!),
            entries: Array.from(this.entriesByMatch.get(owner) ?? [], (key) => {
              const match = this.matches.get(key) as EntryMatch & { kind: "payment" };
              return { entry: this.entries.get(key)!, method: match.method };
            }),
            batches: [...(this.batchesByRef.get(ref.referenceKey) ?? [])]
              .map((key) => this.batchViews.get(key))
              .filter((view): view is BatchView => view !== undefined && view.batch.gateway === ref.gateway),
            decisions: [...(this.paymentDecisions.get(paymentId)?.values() ?? [])],
          },
          now,
          this.policy,
        )
      : undefined;
  }

  private deadline(owner: string, at: number | null): void {
    if (at !== null || !this.loading) this.deadlines.set(owner, at);
  }

  /** An owner's exceptions; most owners have none, and keep no entry (exceptionsOf answers [] for them). */
  private own(owner: string, exceptions: DesiredException[]): void {
    if (exceptions.length > 0) this.exceptionsByOwner.set(owner, exceptions);
    else if (!this.loading) this.exceptionsByOwner.delete(owner);
  }

  private entryOwned(key: string): void {
    const entry = this.entries.get(key)!;
    const match = this.matches.get(key)!;
    const owner = `entry:${key}`;
    this.own(owner, entryExceptions(entry, match, this.now, this.policy));
    const graceEnds = entry.receivedAt + this.policy.unmatchedGraceMs;
    this.deadline(owner, match.kind === "none" && graceEnds > this.now ? graceEnds : null);
  }

  private eventOwned(key: string, event = this.events.get(key)!): void {
    let known = false;
    for (const paymentId of this.paymentsByRef.get(event.referenceKey) ?? []) {
      if (this.paymentRefs.get(paymentId)?.gateway === event.gateway) {
        known = true;
        break;
      }
    }
    const desired = unmatchedEvent(event, known, this.now, this.policy);
    const graceEnds = event.receivedAt + this.policy.unmatchedGraceMs;
    const deadline = !known && graceEnds > this.now ? graceEnds : null;
    // A load keeps nothing of an event with neither (no owner string for most of a million events).
    if (this.loading && !desired && deadline === null) return;
    const owner = `event:${key}`;
    this.own(owner, desired ? [desired] : []);
    this.deadline(owner, deadline);
  }
  // ---------------------------------------------------------------- bounded memory (docs/architecture.md §4 step 4)
  //
  // A group — the payments of one reference key, the gateway events with that key and the bank entries matched to
  // those payments — leaves memory when its payments are final (nothing time alone can change) since
  // `evictAfterMs`. Nothing of it stays but two counts: storage (PostgreSQL) holds it. Before each `apply`,
  // `reloadQuery` says what the facts could touch (keys, and shapes of targets and entries that may be matched);
  // the caller finds the evicted groups those name in storage, leaves out those in memory (`holdsGroup`), loads
  // them and `restore`s them, repeating until nothing more is named. Settlement batches and the token counts of
  // every entry ever seen stay in memory.

  private readonly evictedCounts = { payments: 0, entries: 0 };
  /** When each payment's outcome became final with no deadline (or was last found unable to leave), oldest first. */
  private readonly finalSince = new Map<string, number>();

  /** Whether a bank entry is in memory (a fact about an evicted one reloads it first: `toReload`). */
  hasEntry(key: string): boolean {
    return this.entries.has(key);
  }

  /** Whether the group of a reference key is in memory (a group is in memory whole or not at all). */
  holdsGroup(referenceKey: string): boolean {
    return this.paymentsByRef.get(referenceKey) !== undefined;
  }

  /** In memory and evicted: payments, bank entries, and evicted groups. */
  memoryCounts(): { payments: number; entries: number; evictedPayments: number; evictedEntries: number } {
    return {
      payments: this.paymentRefs.size,
      entries: this.entries.size,
      evictedPayments: this.evictedCounts.payments,
      evictedEntries: this.evictedCounts.entries,
    };
  }

  private noteFinal(paymentIds: Iterable<string>): void {
    for (const id of paymentIds) {
      const outcome = this.outcomes.get(id);
      if (outcome && FINAL_STATUSES.has(outcome.status) && outcome.nextDeadline === null) {
        if (!this.finalSince.has(id))
          this.finalSince.set(id, Math.min(this.now, this.storedFinal?.get(id) ?? this.now));
      } else this.finalSince.delete(id);
    }
  }

  /**
   * Reference keys of groups that may leave memory at `now`: every payment of the key final since at least
   * `evictAfterMs`, no event of the key inside its grace, and no unmatched entry inside its grace (time alone
   * rematches those) able to find one of the payments. Looks at most at `budget` payments, oldest final first, and
   * stops at the first one inside the window; one that cannot leave yet is looked at again a window later.
   */
  evictable(now: number, evictAfterMs: number, budget: number): string[] {
    // Final-since times are known (and in order) only once nothing is pending.
    for (const paymentId of this.pending) this.catchUp(paymentId);
    const out = new Set<string>();
    const examined = new Set<string>();
    const blocked: string[] = [];
    // In order of `since` (it never goes back), so the first one inside the window ends the look.
    for (const [id, since] of this.finalSince) {
      if (examined.size >= budget || examined.has(id) || since > now - evictAfterMs) break;
      examined.add(id);
      const ref = this.paymentRefs.get(id)?.referenceKey;
      if (ref !== undefined && out.has(ref)) continue;
      if (ref !== undefined && this.groupMayLeave(ref, now, evictAfterMs)) out.add(ref);
      else blocked.push(id);
    }
    for (const id of blocked) {
      this.finalSince.delete(id);
      this.finalSince.set(id, now);
    }
    return [...out];
  }

  /**
   * After loading whole: since when each final payment has been final as stored (its status row), so a restart does
   * not start every late-truth window again. Only moves times back.
   */
  backdateFinal(stored: Map<string, number>): void {
    // Payments still pending are noted final later: backdated then (settledAll puts the times in order).
    if (this.pending.size > 0) this.storedFinal = stored;
    this.sortFinal(stored);
  }

  private sortFinal(stored: Map<string, number>): void {
    const times = [...this.finalSince].map(([id, since]): [string, number] => [
      id,
      Math.min(since, stored.get(id) ?? since),
    ]);
    times.sort((a, b) => a[1] - b[1]);
    this.finalSince.clear();
    for (const [id, since] of times) this.finalSince.set(id, since);
  }

  private groupMayLeave(ref: string, now: number, evictAfterMs: number): boolean {
    const ids = this.paymentsByRef.get(ref);
    if (!ids) return false;
    const grace = this.policy.unmatchedGraceMs;
    const matched = new Set<string>();
    for (const id of ids) {
      const since = this.finalSince.get(id);
      if (since === undefined || since > now - evictAfterMs) return false;
      for (const key of this.entriesByMatch.get(`payment:${id}`) ?? []) matched.add(key);
    }
    for (const key of this.eventsByRef.get(ref) ?? []) {
      const event = this.events.get(key)!;
      const known = [...ids].some((id) => this.paymentRefs.get(id)?.gateway === event.gateway);
      if (!known && event.receivedAt + grace > now) return false;
    }
    for (const id of ids) {
      const target = this.targets.get(`payment:${id}`);
      if (!target) continue;
      const near = [
        ...(this.entriesByRef.get(ref) ?? []),
        ...targetAmountKeys(target).flatMap((amount) => [...(this.entriesByAmount.get(amount) ?? [])]),
      ];
      for (const key of near) {
        if (matched.has(key)) continue;
        if (this.matches.get(key)?.kind === "none" && this.entries.get(key)!.receivedAt + grace > now) return false;
      }
    }
    return true;
  }

  /** Takes the groups out of memory; returns them with their lookup keys (an EvictedIndex may keep those). */
  evict(refs: Iterable<string>): EvictedGroup[] {
    const out: EvictedGroup[] = [];
    for (const ref of refs) {
      const ids = this.paymentsByRef.get(ref);
      if (!ids) continue;
      const paymentIds = [...ids];
      const entryKeys: string[] = [];
      const targetShapes: MatchShape[] = [];
      const entryShapes: MatchShape[] = [];
      for (const id of paymentIds) {
        const target = this.targets.get(`payment:${id}`);
        if (target) {
          targetShapes.push(targetShape(target));
          removeFrom(this.targetsByRef, targetRefKey(target), `payment:${id}`);
          for (const amount of targetAmountKeys(target)) removeFrom(this.targetsByAmount, amount, `payment:${id}`);
          this.targets.delete(`payment:${id}`);
        }
        for (const key of this.entriesByMatch.get(`payment:${id}`) ?? []) {
          const entry = this.entries.get(key)!;
          entryKeys.push(key);
          entryShapes.push(entryShape(entry));
          // Its tokens stay counted: targets they name still settle by reference.
          for (const named of entryRefKeys(entry)) removeFrom(this.entriesByRef, named, key);
          for (const amount of entryAmountKeys(entry)) removeFrom(this.entriesByAmount, amount, key);
          this.entries.delete(key);
          this.matches.delete(key);
          this.decisions.delete(key);
          this.exceptionsByOwner.delete(`entry:${key}`);
          this.deadlines.set(`entry:${key}`, null);
        }
        this.entriesByMatch.drop(`payment:${id}`);
        this.pending.delete(id);
        this.versionsByPayment.delete(id);
        this.paymentRefs.delete(id);
        this.outcomes.delete(id);
        this.paymentDecisions.delete(id);
        this.exceptionsByOwner.delete(`payment:${id}`);
        this.deadlines.set(`payment:${id}`, null);
        this.finalSince.delete(id);
      }
      this.paymentsByRef.drop(ref);
      for (const key of this.eventsByRef.get(ref) ?? []) {
        this.events.delete(key);
        this.exceptionsByOwner.delete(`event:${key}`);
        this.deadlines.set(`event:${key}`, null);
      }
      this.eventsByRef.drop(ref);
      this.evictedCounts.payments += paymentIds.length;
      this.evictedCounts.entries += entryKeys.length;
      out.push(evictedGroup(ref, paymentIds, entryKeys, targetShapes, entryShapes));
    }
    return out;
  }

  /**
   * What `facts` could touch among evicted groups, to find, load and `restore` before `apply(facts)`; ask again
   * after restoring (what was loaded can name more) until storage names no group outside memory. A superset: the
   * groups it names include every one the facts could touch. Undefined when nothing is evicted.
   */
  reloadQuery(facts: Partial<WorldFacts>): ReloadQuery | undefined {
    if (this.evictedCounts.payments === 0) return undefined;
    const query: ReloadQuery = {
      refs: new Set(),
      paymentIds: new Set(),
      entries: new Map(),
      entriesFitting: [],
      targetsFitting: [],
    };
    const want = (ref: string) => {
      if (this.paymentsByRef.get(ref) === undefined) query.refs.add(ref);
    };
    const wantPayment = (id: string) => {
      if (!this.paymentRefs.has(id)) query.paymentIds.add(id);
    };
    // Targets that may change (rules 1–3), and the in-memory entries that may be rematched.
    const changed: MatchShape[] = [];
    const rematched = new Set<string>();
    const named = (ref: string) => {
      want(ref);
      for (const id of this.targetsByRef.get(ref) ?? []) changed.push(targetShape(this.targets.get(id)!));
    };
    const paymentShape = (paymentId: string, version: VersionFact) =>
      version.payment && targetShape(paymentTarget(paymentId, version.payment, version.cancelled, false));
    for (const version of facts.versions ?? []) {
      wantPayment(version.paymentId);
      if (version.payment) want(referenceKey(version.payment.reference));
      for (const side of [version, ...this.versionsOf(version.paymentId)]) {
        const shape = paymentShape(version.paymentId, side);
        if (shape) changed.push(shape);
      }
      const current = this.targets.get(`payment:${version.paymentId}`);
      if (current) changed.push(targetShape(current));
    }
    for (const event of facts.events ?? []) want(event.referenceKey);
    for (const batch of facts.batches ?? []) {
      const key = batchTargetKey(batch);
      const current = this.batches.get(key);
      for (const side of current ? [batch, current] : [batch]) {
        for (const ref of side.referenceKeys) named(ref);
        changed.push({
          refs: [side.batchKey],
          amounts: [[amountKey(side.currency, Math.abs(side.netMinor)), side.expectedArrival]],
        });
      }
    }
    for (const entry of facts.entries ?? []) {
      const key = entryKey(entry);
      const current = this.entries.get(key);
      if (!current) query.entries.set(key, { bank: entry.bank, entryId: entry.entryId });
      if (current) {
        rematched.add(key);
        for (const token of current.tokens) named(token);
      }
      for (const token of new Set(entry.tokens)) named(token);
    }
    for (const decision of facts.decisions ?? []) {
      const key = entryKey(decision);
      if (this.entries.has(key)) rematched.add(key);
      else query.entries.set(key, { bank: decision.bank, entryId: decision.entryId });
      if (decision.target.startsWith("payment:")) wantPayment(decision.target.slice("payment:".length));
    }
    for (const decision of facts.paymentDecisions ?? []) wantPayment(decision.paymentId);

    // Entries a changed target may rematch: evicted ones within its window, in-memory ones as refreshTarget finds them.
    for (const shape of changed) {
      query.entriesFitting.push(shape);
      for (const ref of shape.refs) for (const key of this.entriesByRef.get(ref) ?? []) rematched.add(key);
      for (const [amount] of shape.amounts)
        for (const key of this.entriesByAmount.get(amount) ?? []) rematched.add(key);
    }
    // What a rematched entry may take or leave: evicted targets it fits, and the payments of batches it fits.
    const listedBy = (batchKey: string) => {
      for (const ref of this.batches.get(batchKey)?.referenceKeys ?? []) want(ref);
    };
    const fits = (shape: MatchShape, old: EntryMatch | undefined) => {
      query.targetsFitting.push(shape);
      const ids = [
        ...shape.refs.flatMap((ref) => [...(this.targetsByRef.get(ref) ?? [])]),
        ...shape.amounts.flatMap(([amount]) => [...(this.targetsByAmount.get(amount) ?? [])]),
      ];
      for (const id of ids) if (id.startsWith("batch:")) listedBy(id.slice("batch:".length));
      if (old?.kind === "batch") listedBy(old.batchKey);
    };
    // And the payments operators named for it: a decision may arrive before its entry.
    const decided = (key: string) => {
      for (const decision of this.decisions.get(key)?.values() ?? []) {
        if (decision.target.startsWith("payment:")) wantPayment(decision.target.slice("payment:".length));
      }
    };
    for (const entry of facts.entries ?? []) {
      fits(entryShape(entry), undefined);
      decided(entryKey(entry));
    }
    for (const key of rematched) {
      fits(entryShape(this.entries.get(key)!), this.matches.get(key));
      decided(key);
    }
    return query;
  }

  /**
   * Puts loaded groups back as they were stored: their facts as of before the facts about to be applied (the
   * loader must leave those out: `apply` has to see them arrive) and their entries' stored matches; outcomes
   * recomputed from them, as nothing touched them since. Returns what it put back (the writer may compare it).
   */
  restore(
    groups: StoredGroup[],
    loaded: { facts: Partial<WorldFacts>; matches: Map<string, EntryMatch> },
  ): Reevaluated {
    const paymentIds: string[] = [];
    const entryKeys = new Set<string>();
    const restoring: StoredGroup[] = [];
    for (const group of groups) {
      if (this.paymentsByRef.get(group.referenceKey) !== undefined) continue;
      restoring.push(group);
      this.evictedCounts.payments = Math.max(0, this.evictedCounts.payments - group.paymentIds.length);
      this.evictedCounts.entries = Math.max(0, this.evictedCounts.entries - group.entryKeys.length);
      paymentIds.push(...group.paymentIds);
      for (const key of group.entryKeys) entryKeys.add(key);
    }
    const ids = new Set(paymentIds);
    const refs = new Set(restoring.map((group) => group.referenceKey));
    for (const version of loaded.facts.versions ?? []) {
      if (!ids.has(version.paymentId)) continue;
      this.addVersion(version, { targets: DISCARD });
    }
    const eventKeys: string[] = [];
    for (const event of loaded.facts.events ?? []) {
      if (!refs.has(event.referenceKey)) continue;
      const key = `${event.gateway}\u0000${event.eventId}`;
      const current = this.events.get(key);
      if (current && current.seq <= event.seq) continue;
      this.events.set(key, event);
      addTo(this.eventsByRef, event.referenceKey, key);
      eventKeys.push(key);
    }
    const restored = new Set<string>();
    for (const entry of loaded.facts.entries ?? []) {
      const key = entryKey(entry);
      if (!entryKeys.has(key)) continue;
      const current = this.entries.get(key);
      if (current && current.seq <= entry.seq) continue;
      this.entries.set(key, entry);
      restored.add(key);
    }
    for (const key of restored) {
      const entry = this.entries.get(key)!;
      for (const ref of entryRefKeys(entry)) addTo(this.entriesByRef, ref, key);
      for (const amount of entryAmountKeys(entry)) addTo(this.entriesByAmount, amount, key);
      const match = loaded.matches.get(key) ?? { kind: "none" };
      this.matches.set(key, match);
      addTo(this.entriesByMatch, matchOwner(match), key);
    }
    for (const decision of loaded.facts.decisions ?? []) {
      if (!entryKeys.has(entryKey(decision))) continue;
      const known = this.decisions.get(entryKey(decision)) ?? new Map<number, ManualDecision>();
      known.set(decision.seq, decision);
      this.decisions.set(entryKey(decision), known);
    }
    for (const decision of loaded.facts.paymentDecisions ?? []) {
      if (!ids.has(decision.paymentId)) continue;
      const known = this.paymentDecisions.get(decision.paymentId) ?? new Map<number, PaymentDecision>();
      known.set(decision.seq, decision);
      this.paymentDecisions.set(decision.paymentId, known);
    }
    const scratch = { payments: new Set<string>(), events: new Set<string>() };
    for (const id of ids) {
      const target = this.paymentTargetOf(id, scratch);
      if (target) {
        this.targets.set(`payment:${id}`, target);
        addTo(this.targetsByRef, targetRefKey(target), `payment:${id}`);
        for (const amount of targetAmountKeys(target)) addTo(this.targetsByAmount, amount, `payment:${id}`);
      }
      this.evaluate(id);
    }
    // The late-truth window starts again for what a fact just touched.
    this.noteFinal(ids);
    for (const key of restored) this.entryOwned(key);
    for (const key of eventKeys) this.eventOwned(key);
    return { payments: ids, entries: restored, batches: new Set(), events: new Set(eventKeys) };
  }
}

/** Statuses nothing but a late fact changes (CONTRACT §5): a payment in one may leave memory. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  "settled",
  "failed",
  "refunded",
  "cancelled",
  "charged_back",
  "written_off",
]);

function targetShape(target: MatchTarget): MatchShape {
  if (target.kind === "batch") {
    return {
      refs: [target.batchIdKey],
      amounts: [[amountKey(target.currency, Math.abs(target.netMinor)), target.expectedArrival]],
    };
  }
  const last = target.installments[target.installments.length - 1];
  return {
    refs: [target.referenceKey],
    amounts: [
      ...(last ? [[amountKey(target.currency, target.amountMinor), last.dueDate] as [string, string]] : []),
      ...target.installments.map(
        (part) => [amountKey(target.currency, part.amountMinor), part.dueDate] as [string, string],
      ),
    ],
  };
}

function entryShape(entry: BankFact): MatchShape {
  return { refs: entryRefKeys(entry), amounts: entryAmountKeys(entry).map((amount) => [amount, entry.valueDate]) };
}

function matchOwner(match: EntryMatch): string {
  if (match.kind === "payment") return `payment:${match.paymentId}`;
  if (match.kind === "batch") return `batch:${match.batchKey}`;
  return match.kind;
}
