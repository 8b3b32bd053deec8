import { createHash } from "node:crypto";
import type { DraftEntry } from "./statement.js";

/**
 * entry_id is the Kafka key and the dedupe key downstream (CONTRACT §8 "Bank line identity"): the same
 * line must get the same id in every file that contains it — a daily statement and the monthly one that
 * covers the same days — and two genuinely identical bookings must keep two ids.
 *
 * The rule: `ACCOUNT:YYYYMMDD:h<16 hex>[:REF][:N][#k]`
 * - ACCOUNT and YYYYMMDD (booking date) keep ids readable and grouped per account and day.
 * - h<16 hex> is sha256 over what the bank says about the line: account, booking date, value date,
 *   direction, amount, currency, status, the bank's references (camt AcctSvcrRef/NtryRef and TxDtls refs,
 *   MT940 bank and customer references, BAI2 bank and customer references), end-to-end id, remittance text
 *   and the rest of the line's own text (type code, narrative). Nothing about the file (statement id,
 *   position, page) takes part, so overlapping files agree. Status takes part so that a pending line and
 *   the booked line that confirms it are two entries (CONTRACT §7 tentative matches).
 * - REF is the bank's own reference when there is one, for people and for search.
 * - `:N` is the position of a split batch child within its booking (camt TxDtls order).
 * - `#k` is the occurrence index, k ≥ 2, among lines identical in all of the above, i.e. of the same
 *   account and day: the k-th such line in the file. Identical lines cannot be told apart, so which one is
 *   `#2` does not matter; what matters is that a file holding the whole day holds as many of them as the
 *   bank booked, whichever file it is.
 * A bank repeating one reference on many lines no longer makes their ids depend on file order.
 */
const MAX_ID = 200;

export function assignEntryIds(drafts: readonly DraftEntry[]): string[] {
  const seen = new Map<string, number>();
  return drafts.map((draft) => {
    const base = bounded(baseId(draft));
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : bounded(`${base}#${count}`);
  });
}

function baseId(draft: DraftEntry): string {
  const { account, booking_date } = draft.fields;
  const prefix = `${account.replace(/\s+/g, "")}:${booking_date.replace(/-/g, "")}:h${hash(identityOf(draft)).slice(0, 16)}`;
  const ref = draft.ref ? `:${draft.ref.replace(/\s+/g, "_")}` : "";
  return `${prefix}${ref}${draft.suffix ?? ""}`;
}

/** What the bank says about the line; two lines differing in none of it are the same booking or identical ones. */
function identityOf(draft: DraftEntry): string[] {
  const f = draft.fields;
  return [
    f.account.replace(/\s+/g, ""),
    f.booking_date,
    f.value_date,
    f.direction,
    String(f.amount_minor),
    f.currency,
    f.status,
    draft.ref ?? "",
    f.end_to_end_id ?? "",
    f.remittance_info ?? "",
    draft.suffix ?? "",
    ...draft.hashParts,
    // What the bank says of the payer's instruction and its rate (CONTRACT §8 "FX"); only when it says it,
    // so the ids of lines without them stay as they were.
    ...(f.instructed_amount_minor !== undefined || f.fx_rate !== undefined
      ? [`fx:${f.instructed_amount_minor ?? ""}:${f.instructed_currency ?? ""}:${f.fx_rate ?? ""}`]
      : []),
  ];
}

function hash(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\u001f")).digest("hex");
}

/** Long references would break the 200-character limit: keep the start, replace the rest by its hash. */
function bounded(id: string): string {
  if (id.length <= MAX_ID) return id;
  return `${id.slice(0, MAX_ID - 17)}~${hash([id]).slice(0, 16)}`;
}
