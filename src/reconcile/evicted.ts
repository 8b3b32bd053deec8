import { dateToMs, type Policy, utcDate } from "./types.js";

/**
 * What the working set keeps of the payments it evicted (docs/architecture.md §4 step 4): for each evicted
 * group (the payments of one reference key, their gateway events and their matched bank entries) only the keys
 * a later fact could find it by. A fact that finds a group here makes the writer load it back before applying
 * the fact. Lookups may find more than strictly needed (a reload too many costs time); never less.
 */

/** An amount a target can be matched by or an entry can match by, with the date the match window runs from. */
export type AmountOn = [amountKey: string, date: string];

/** What matching can find a target or an entry by: reference keys and amounts on dates. */
export interface MatchShape {
  refs: string[];
  amounts: AmountOn[];
}

/** An evicted group as the loader needs it: its reference key, its payments and its bank entries. */
export interface EvictedGroup {
  referenceKey: string;
  paymentIds: string[];
  entryKeys: string[];
  /** Kept to take the group out of the indexes when it is loaded back. */
  targets: MatchShape[];
  entries: MatchShape[];
}

const DAY_MS = 86_400_000;

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

export class EvictedIndex {
  private readonly groups = new Map<string, EvictedGroup>();
  private readonly byPayment = new Map<string, string>();
  private readonly byEntry = new Map<string, string>();
  /** Evicted targets by amount and due date (their reference key is the group's own key). */
  private readonly targetsByAmountOn = new Map<string, Set<string>>();
  /** Evicted entries by the reference keys they name, and by amount and value date. */
  private readonly entriesByRef = new Map<string, Set<string>>();
  private readonly entriesByAmountOn = new Map<string, Set<string>>();
  private readonly windowDays: number;

  constructor(policy: Policy) {
    this.windowDays = Math.floor(policy.matchWindowMs / DAY_MS);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  get paymentCount(): number {
    return this.byPayment.size;
  }

  get entryCount(): number {
    return this.byEntry.size;
  }

  group(referenceKey: string): EvictedGroup | undefined {
    return this.groups.get(referenceKey);
  }

  groupOfPayment(paymentId: string): string | undefined {
    return this.byPayment.get(paymentId);
  }

  groupOfEntry(entryKey: string): string | undefined {
    return this.byEntry.get(entryKey);
  }

  add(group: EvictedGroup): void {
    this.index(group, 1);
  }

  remove(referenceKey: string): EvictedGroup | undefined {
    const group = this.groups.get(referenceKey);
    if (group) this.index(group, -1);
    return group;
  }

  /** Groups with a target that could take an entry of this shape (by reference, or amount within the window). */
  targetsFitting(entry: MatchShape, into: Set<string>): void {
    for (const ref of entry.refs) if (this.groups.has(ref)) into.add(ref);
    this.within(this.targetsByAmountOn, entry.amounts, into);
  }

  /** Groups with an entry that a target of this shape could take (by reference, or amount within the window). */
  entriesFitting(target: MatchShape, into: Set<string>): void {
    for (const ref of target.refs) for (const group of this.entriesByRef.get(ref) ?? []) into.add(group);
    this.within(this.entriesByAmountOn, target.amounts, into);
  }

  private within(index: Map<string, Set<string>>, amounts: AmountOn[], into: Set<string>): void {
    if (index.size === 0) return;
    for (const [amount, date] of amounts) {
      const day = dateToMs(date);
      for (let k = -this.windowDays; k <= this.windowDays; k++) {
        for (const group of index.get(`${amount}|${utcDate(day + k * DAY_MS)}`) ?? []) into.add(group);
      }
    }
  }

  private index(group: EvictedGroup, delta: 1 | -1): void {
    const ref = group.referenceKey;
    const put = delta > 0 ? addTo : removeFrom;
    if (delta > 0) this.groups.set(ref, group);
    else this.groups.delete(ref);
    for (const id of group.paymentIds) {
      if (delta > 0) this.byPayment.set(id, ref);
      else this.byPayment.delete(id);
    }
    for (const key of group.entryKeys) {
      if (delta > 0) this.byEntry.set(key, ref);
      else this.byEntry.delete(key);
    }
    for (const target of group.targets) {
      for (const [amount, date] of target.amounts) put(this.targetsByAmountOn, `${amount}|${date}`, ref);
    }
    for (const entry of group.entries) {
      for (const key of entry.refs) put(this.entriesByRef, key, ref);
      for (const [amount, date] of entry.amounts) put(this.entriesByAmountOn, `${amount}|${date}`, ref);
    }
  }
}
