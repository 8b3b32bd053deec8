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

/** A group as the loader and `WorkingSet.restore` need it: its reference key, its payments and its bank entries. */
export interface StoredGroup {
  referenceKey: string;
  paymentIds: string[];
  entryKeys: string[];
}

/** An evicted group with the keys an EvictedIndex finds it by. */
export interface EvictedGroup extends StoredGroup {
  /** Its index keys (`amount|date`), kept to take it out of the indexes when it is loaded back. */
  targetAmountsOn: string[];
  entryRefs: string[];
  entryAmountsOn: string[];
}

/** Builds a group's index keys from the shapes of its targets and entries (one string per key, shared). */
export function evictedGroup(
  referenceKey: string,
  paymentIds: string[],
  entryKeys: string[],
  targets: MatchShape[],
  entries: MatchShape[],
): EvictedGroup {
  const on = (shapes: MatchShape[]) => [
    ...new Set(shapes.flatMap((shape) => shape.amounts.map(([amount, date]) => `${amount}|${date}`))),
  ];
  return {
    referenceKey,
    paymentIds,
    entryKeys,
    targetAmountsOn: on(targets),
    entryRefs: [...new Set(entries.flatMap((shape) => shape.refs))],
    entryAmountsOn: on(entries),
  };
}

/**
 * What a reload looks for among evicted groups (`WorkingSet.reloadQuery`): the groups of these reference keys,
 * payments and bank entries, those with an entry a changed target could take, and those with a target an arriving
 * or rematched entry could take (by reference, or by amount within the match window). The writer answers it from
 * PostgreSQL (src/writer/evictedLookup.ts), tests and the core bench from an EvictedIndex; either answer may name
 * groups in memory, which the caller leaves out (`WorkingSet.holdsGroup`).
 */
export interface ReloadQuery {
  refs: Set<string>;
  paymentIds: Set<string>;
  /** Bank entries by their key (`entryKey`). */
  entries: Map<string, { bank: string; entryId: string }>;
  /** Shapes of targets that may change: evicted entries they could take. */
  entriesFitting: MatchShape[];
  /** Shapes of entries that may be (re)matched: evicted targets that could take them. */
  targetsFitting: MatchShape[];
}

/** The window of days either side of a date that matching looks within. */
export function matchWindowDays(policy: Policy): number {
  return Math.floor(policy.matchWindowMs / DAY_MS);
}

const DAY_MS = 86_400_000;

/** Most keys name one group: a string until a second one comes (a Set costs ~10× the bytes). */
type Groups = Map<string, string | Set<string>>;

function addTo(index: Groups, key: string, value: string): void {
  const found = index.get(key);
  if (found === undefined) index.set(key, value);
  else if (typeof found === "string") {
    if (found !== value) index.set(key, new Set([found, value]));
  } else found.add(value);
}

function removeFrom(index: Groups, key: string, value: string): void {
  const found = index.get(key);
  if (found === undefined) return;
  if (typeof found === "string") {
    if (found === value) index.delete(key);
    return;
  }
  found.delete(value);
  if (found.size === 1) index.set(key, [...found][0]!);
}

function addAll(found: string | Set<string> | undefined, into: Set<string>): void {
  if (found === undefined) return;
  if (typeof found === "string") into.add(found);
  else for (const group of found) into.add(group);
}

/**
 * The evicted groups kept in memory (the bench and tests; the writer keeps none: PostgreSQL answers the same query).
 * Fed by what `WorkingSet.evict` returns; `find` names a superset of the groups a query could touch.
 */
export class EvictedIndex {
  private readonly groups = new Map<string, EvictedGroup>();
  private readonly byPayment = new Map<string, string>();
  private readonly byEntry = new Map<string, string>();
  /** Evicted targets by amount and due date (their reference key is the group's own key). */
  private readonly targetsByAmountOn: Groups = new Map();
  /** Evicted entries by the reference keys they name, and by amount and value date. */
  private readonly entriesByRef: Groups = new Map();
  private readonly entriesByAmountOn: Groups = new Map();
  private readonly windowDays: number;

  constructor(policy: Policy) {
    this.windowDays = matchWindowDays(policy);
  }

  /** The groups a reload query names (some may be in memory again: the caller leaves those out). */
  find(query: ReloadQuery): Set<string> {
    const found = new Set<string>();
    for (const ref of query.refs) if (this.groups.has(ref)) found.add(ref);
    for (const id of query.paymentIds) {
      const ref = this.byPayment.get(id);
      if (ref !== undefined) found.add(ref);
    }
    for (const key of query.entries.keys()) {
      const ref = this.byEntry.get(key);
      if (ref !== undefined) found.add(ref);
    }
    for (const shape of query.entriesFitting) this.entriesFitting(shape, found);
    for (const shape of query.targetsFitting) this.targetsFitting(shape, found);
    return found;
  }

  /** The groups a query names that are not in memory, taken out of the index (to be restored). */
  take(query: ReloadQuery | undefined, inMemory: (referenceKey: string) => boolean): EvictedGroup[] {
    if (!query) return [];
    return [...this.find(query)].filter((ref) => !inMemory(ref)).map((ref) => this.remove(ref)!);
  }

  get paymentCount(): number {
    return this.byPayment.size;
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
    for (const ref of target.refs) addAll(this.entriesByRef.get(ref), into);
    this.within(this.entriesByAmountOn, target.amounts, into);
  }

  private within(index: Groups, amounts: AmountOn[], into: Set<string>): void {
    if (index.size === 0) return;
    for (const [amount, date] of amounts) {
      const day = dateToMs(date);
      for (let k = -this.windowDays; k <= this.windowDays; k++) {
        addAll(index.get(`${amount}|${utcDate(day + k * DAY_MS)}`), into);
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
    for (const key of group.targetAmountsOn) put(this.targetsByAmountOn, key, ref);
    for (const key of group.entryRefs) put(this.entriesByRef, key, ref);
    for (const key of group.entryAmountsOn) put(this.entriesByAmountOn, key, ref);
  }
}
