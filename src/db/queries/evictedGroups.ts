import type { EntryMatch } from "../../reconcile/matching.js";
import type { StoredGroup } from "../../reconcile/evicted.js";
import { entryKey, type WorldFacts } from "../../reconcile/world.js";
import type { Db } from "../pool.js";
import {
  type BankEntryDbRow,
  type GatewayEventDbRow,
  toBankFact,
  toGatewayFact,
  toVersion,
  type VersionRow,
} from "./factRows.js";
import { type DecisionRow, type PaymentDecisionRow, toDecision, toPaymentDecision } from "./manualDecisions.js";
import { loadMatches } from "./matching.js";

/**
 * Evicted groups of the memory engine's working set (docs/architecture.md §4 step 4), by reference key, as stored
 * before the calling transaction: their payments (by the stored rows' reference keys), those payments' versions and
 * decisions, the gateway events of their reference keys, the bank entries matched to their payments with those
 * matches and decisions. Rows the transaction stored itself (`xmin` is its own id) are left out: the working set
 * applies them next, as arriving facts.
 */
const BEFORE_THIS_TRANSACTION = "xmin <> pg_current_xact_id()::xid";

export async function loadEvictedGroups(
  db: Db,
  refs: string[],
): Promise<{ groups: StoredGroup[]; facts: Partial<WorldFacts>; matches: Map<string, EntryMatch> }> {
  const payments = await db.query<{ id: string; reference_key: string }>(
    "select id, reference_key from payments where reference_key = any($1::text[])",
    [refs],
  );
  const groups = new Map<string, StoredGroup>();
  const groupOf = new Map<string, StoredGroup>();
  for (const row of payments.rows) {
    let group = groups.get(row.reference_key);
    if (!group) {
      group = { referenceKey: row.reference_key, paymentIds: [], entryKeys: [] };
      groups.set(row.reference_key, group);
    }
    group.paymentIds.push(row.id);
    groupOf.set(row.id, group);
  }
  const paymentIds = [...groupOf.keys()];
  const versions = await db.query<VersionRow>(
    `select seq, payment_id, version, cancelled, body, received_at from expected_payment_versions
      where payment_id = any($1::text[]) and ${BEFORE_THIS_TRANSACTION}`,
    [paymentIds],
  );
  const events = await db.query<GatewayEventDbRow>(
    `select seq, body, reference_key, received_at from gateway_events
      where reference_key = any($1::text[]) and type <> 'settlement.batch' and ${BEFORE_THIS_TRANSACTION}`,
    [refs],
  );
  const entries = await db.query<BankEntryDbRow & { payment_id: string }>(
    `select e.seq, e.body, e.received_at, m.payment_id from bank_entry_matches m join bank_entries e on e.seq = m.entry_seq
      where m.payment_id = any($1::text[]) and e.${BEFORE_THIS_TRANSACTION}`,
    [paymentIds],
  );
  const bankFacts = entries.rows.map((row) => {
    const entry = toBankFact(row);
    groupOf.get(row.payment_id)?.entryKeys.push(entryKey(entry));
    return entry;
  });
  const stored = await loadMatches(
    db,
    bankFacts.map((entry) => entry.seq),
  );
  const matches = new Map<string, EntryMatch>();
  for (const entry of bankFacts) {
    const match = stored.get(entry.seq);
    if (match) matches.set(entryKey(entry), match.match);
  }
  const decisions = await db.query<DecisionRow>(
    `select d.* from unnest($1::text[], $2::text[]) as k(bank, entry_id)
       join manual_decisions d on d.bank = k.bank and d.entry_id = k.entry_id
      where d.${BEFORE_THIS_TRANSACTION} order by d.seq`,
    [bankFacts.map((entry) => entry.bank), bankFacts.map((entry) => entry.entryId)],
  );
  const paymentDecisions = await db.query<PaymentDecisionRow>(
    `select * from payment_decisions where payment_id = any($1::text[]) and ${BEFORE_THIS_TRANSACTION} order by seq`,
    [paymentIds],
  );
  return {
    groups: [...groups.values()],
    facts: {
      versions: versions.rows.map(toVersion),
      events: events.rows.map(toGatewayFact),
      entries: bankFacts,
      decisions: decisions.rows.map(toDecision),
      paymentDecisions: paymentDecisions.rows.map(toPaymentDecision),
    },
    matches,
  };
}

/** When each final payment's stored status began: the late-truth window of a working set loaded whole. */
export async function finalSinceStored(db: Db, finalStatuses: Iterable<string>): Promise<Map<string, number>> {
  const result = await db.query<{ id: string; status_since: Date }>(
    "select id, status_since from payments where status = any($1::text[])",
    [[...finalStatuses]],
  );
  return new Map(result.rows.map((row) => [row.id, row.status_since.getTime()]));
}
