import type { ExpectedPayment } from "../messages/schemas.js";
import type { EntryMatch } from "../reconcile/matching.js";
import type { PaymentOutcome } from "../reconcile/paymentStatus.js";
import { referenceKey } from "../reconcile/references.js";
import { identityHash, outcomeSignature, signedFields, type StoredPayment } from "../db/queries/paymentState.js";
import { sameMatch } from "../db/queries/matching.js";

/** A payment row as the memory engine last wrote (or read) it. */
export interface WrittenPayment {
  stored: StoredPayment;
  /** The outcome the row says, when this process evaluated it: compared by identity, then field by field. */
  outcome?: PaymentOutcome;
  /** The version in force the row holds, when this process knows the object. */
  identity?: { payment: ExpectedPayment; cancelled: boolean };
}

/** An entry's match row as last written (or read). */
export interface WrittenMatch {
  match: EntryMatch;
  unmatchedDeadline: number | null;
}

/**
 * What one transaction wrote or read, kept only if it commits. With apply-ahead (docs/architecture.md §4, step 8)
 * several may be pending at once, in commit order: a transaction's compare looks in the stages before its own
 * (newest first), then in what is committed — the rows as they will be when the ones before it commit.
 */
export class WrittenStage {
  readonly payments = new Map<string, WrittenPayment>();
  readonly matches = new Map<string, WrittenMatch>();

  constructor(
    private readonly rows: WrittenRows,
    /** The stages pending when this one began, oldest first (emptied once committed: the rows are kept then). */
    readonly earlier: WrittenStage[],
  ) {}

  /** The payment's row as the transactions before this one leave it (undefined: not known, read it). */
  payment(id: string): WrittenPayment | undefined {
    for (let i = this.earlier.length - 1; i >= 0; i--) {
      const row = this.earlier[i]!.payments.get(id);
      if (row) return row;
    }
    return this.rows.payment(id);
  }

  match(entryKey: string): WrittenMatch | undefined {
    for (let i = this.earlier.length - 1; i >= 0; i--) {
      const row = this.earlier[i]!.matches.get(entryKey);
      if (row) return row;
    }
    return this.rows.match(entryKey);
  }

  /**
   * Whether a transaction before this one, not ended yet, staged the payment's row: until it ends, its writes hold
   * that row's locks, so this one writes the row only after it holds the reconciliation lock (they have ended then).
   */
  paymentStagedBefore(id: string): boolean {
    return this.earlier.some((stage) => stage.payments.has(id));
  }

  matchStagedBefore(entryKey: string): boolean {
    return this.earlier.some((stage) => stage.matches.has(entryKey));
  }

  stagePayment(id: string, row: WrittenPayment): void {
    this.payments.set(id, row);
  }

  stageMatch(entryKey: string, row: WrittenMatch): void {
    this.matches.set(entryKey, row);
  }
}

/**
 * What the memory engine last wrote to `payments` and `bank_entry_matches`, per key, so its write phase compares
 * the working set with memory instead of reading the rows back (docs/architecture.md §4, step 6). A read-through
 * cache: a key not in it is read from PostgreSQL and then kept. Valid only while this engine is the only writer of
 * those rows: the reconciler clears it when another writer held the reconciliation lock since its last commit (the
 * reconcile clock moved), when the working set is loaded again, and when a transaction does not commit. What a
 * transaction writes or reads is staged (`begin`) and kept only when it commits (`commit`), so a rollback leaves
 * nothing.
 *
 * Exceptions are not kept: operators change their rows directly (resolve, acknowledge, reopen; escalation and
 * dunning raise priorities) without the reconciliation lock, so the stored rows are the only truth for them.
 */
export class WrittenRows {
  private readonly payments = new Map<string, WrittenPayment>();
  private readonly matches = new Map<string, WrittenMatch>();
  /** Stages of transactions not ended yet, in the order they began (their commit order). */
  private pending: WrittenStage[] = [];

  payment(id: string): WrittenPayment | undefined {
    return this.payments.get(id);
  }

  match(entryKey: string): WrittenMatch | undefined {
    return this.matches.get(entryKey);
  }

  /** A transaction's stage: it sees what the pending ones before it staged. */
  begin(): WrittenStage {
    const stage = new WrittenStage(this, [...this.pending]);
    this.pending.push(stage);
    return stage;
  }

  /** The stage's transaction committed: what it wrote and read is what PostgreSQL holds now. */
  commit(stage: WrittenStage): void {
    if (!this.pending.includes(stage)) return; // cleared meanwhile: nothing it staged is known to be stored
    for (const [id, row] of stage.payments) this.payments.set(id, row);
    for (const [key, row] of stage.matches) this.matches.set(key, row);
    this.abandon(stage);
  }

  /** The stage will not commit (its transaction redoes its work in a new one): forgotten. */
  abandon(stage: WrittenStage): void {
    this.pending = this.pending.filter((pending) => pending !== stage);
    // Later stages still list it: empty, they read what it held from the committed rows (no chain kept alive).
    stage.payments.clear();
    stage.matches.clear();
    stage.earlier.length = 0;
  }

  /** Forgets everything, staged or kept (another writer, a reload, a transaction that did not commit). */
  clear(): void {
    this.payments.clear();
    this.matches.clear();
    for (const stage of this.pending) {
      stage.payments.clear();
      stage.matches.clear();
    }
    this.pending = [];
  }

  /** Keys that left memory with an evicted group: a reload reads their rows again, memory stays bounded. */
  forget(paymentIds: Iterable<string>, entryKeys: Iterable<string>): void {
    for (const id of paymentIds) {
      this.payments.delete(id);
      for (const stage of this.pending) stage.payments.delete(id);
    }
    for (const key of entryKeys) {
      this.matches.delete(key);
      for (const stage of this.pending) stage.matches.delete(key);
    }
  }

  get size(): { payments: number; matches: number } {
    return { payments: this.payments.size, matches: this.matches.size };
  }
}

/** Whether the stored row already says this outcome (what `outcomeSignature` decides, without JSON or SHA-1 when known). */
export function sameOutcome(row: WrittenPayment, outcome: PaymentOutcome): boolean {
  const known = row.outcome;
  if (known === outcome) return true;
  // A different body object (or a row read back): the signature decides, as it does for the sql engine.
  if (!known || known.payment !== outcome.payment) return row.stored.signature === outcomeSignature(outcome);
  // The same payment body: the other signed fields, compared as JSON would see them (no JSON, no SHA-1).
  const before = signedFields(known);
  const after = signedFields(outcome);
  if (before.length !== after.length) return false;
  for (let i = 1; i < before.length; i++) if (!sameValue(before[i], after[i])) return false;
  return true;
}

/** Whether the stored row already holds this version in force (what `identityHash` decides). */
export function sameIdentity(row: WrittenPayment, payment: ExpectedPayment, cancelled: boolean): boolean {
  if (row.identity && row.identity.payment === payment && row.identity.cancelled === cancelled) return true;
  return row.stored.identityHash === identityHash(payment, cancelled);
}

/**
 * The row after this transaction: as written when the outcome changed, as it was otherwise. Either way the row now
 * says this outcome and holds this version in force (equal signatures, equal identity hashes), so both objects stand
 * in for it and the next comparison is by identity.
 */
export function writtenPayment(
  before: WrittenPayment | undefined,
  outcome: PaymentOutcome,
  identity: { payment: ExpectedPayment; cancelled: boolean },
  changed: { outcome: boolean; identity: boolean },
): WrittenPayment {
  if (!changed.outcome && before) {
    const stored = changed.identity
      ? { ...before.stored, identityHash: identityHash(identity.payment, identity.cancelled) }
      : before.stored;
    return { stored, outcome, identity };
  }
  const { payment } = outcome;
  return {
    stored: {
      id: outcome.paymentId,
      referenceKey: referenceKey(payment.reference),
      status: outcome.status,
      direction: payment.direction,
      gateway: payment.gateway,
      currency: payment.currency,
      atRiskMinor: outcome.exception?.amountMinor ?? 0,
      statusReason: outcome.reason,
      signature: outcomeSignature(outcome),
      identityHash:
        changed.identity || !before ? identityHash(identity.payment, identity.cancelled) : before.stored.identityHash,
    },
    outcome,
    identity,
  };
}

/** Whether the stored match row already says this match and deadline. */
export function sameWrittenMatch(row: WrittenMatch | undefined, match: EntryMatch, unmatchedDeadline: number | null) {
  return (
    row !== undefined &&
    row.unmatchedDeadline === unmatchedDeadline &&
    (row.match === match || sameMatch(row.match, match))
  );
}

/** Equal as JSON.stringify sees them, for the plain values an outcome's signed fields hold. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every(
    (key, i) => key === keysB[i] && sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}
