import type { WorldFacts } from "./world.js";

/**
 * What a batch of new facts touched: the keys whose reconciliation may have
 * changed. Only these are re-reconciled, in the same transaction.
 */
export interface TouchedFacts {
  paymentIds: Set<string>;
  referenceKeys: Set<string>;
  /** `gateway/batch_id` (see batchKey) */
  batchKeys: Set<string>;
  entrySeqs: Set<number>;
  /** Gateway events (by seq) that may match nothing: checked for the unmatched grace. */
  gatewayEventSeqs: Set<number>;
  /** Entries to match again (their grace ran out), without treating them as new. */
  recheckEntrySeqs: Set<number>;
  /** Orphan gateway events whose grace ran out. */
  dueOrphanSeqs: Set<number>;
  /**
   * The facts behind the sets above, when the caller just stored them and has them (ingest): the memory
   * engine applies these instead of reading them back. Never includes operators' decisions. Built only when
   * asked (the sql engine never does).
   */
  stored?: () => Pick<WorldFacts, "versions" | "events" | "batches" | "entries">;
}

export function emptyTouched(): TouchedFacts {
  return {
    paymentIds: new Set(),
    referenceKeys: new Set(),
    batchKeys: new Set(),
    entrySeqs: new Set(),
    gatewayEventSeqs: new Set(),
    recheckEntrySeqs: new Set(),
    dueOrphanSeqs: new Set(),
  };
}

/** One string for a gateway's batch: gateway names are labels without `/`, so the first `/` splits it. */
export function batchKey(gateway: string, batchId: string): string {
  return `${gateway}/${batchId}`;
}

export function parseBatchKey(key: string): { gateway: string; batchId: string } {
  const slash = key.indexOf("/");
  return { gateway: key.slice(0, slash), batchId: key.slice(slash + 1) };
}
