import { createHash } from "node:crypto";
import type { DraftEntry } from "./statement.js";

/**
 * entry_id is the Kafka key and the dedupe key downstream, so it must come out the
 * same every time the same file is imported, and differ between lines of a bank.
 *
 * - With the bank's own reference: `ACCOUNT:YYYYMMDD:REF` (camt AcctSvcrRef/NtryRef,
 *   MT940 reference after //, BAI2 bank reference). A camt.053 and a camt.054 of the
 *   same booking then share the id, which is what dedupe wants.
 * - Without one: `ACCOUNT:YYYYMMDD:h` + 16 hex of sha256 over the line's content.
 * - Split batch children append `:N` to their parent's id.
 * - A second line giving the same id in one file gets `#2`, the third `#3`… (the ordinal
 *   among identical lines, stable because files are read in order).
 */
const MAX_ID = 200;

export function assignEntryIds(drafts: readonly DraftEntry[]): string[] {
  const seen = new Map<string, number>();
  return drafts.map((draft) => {
    const base = bounded(`${baseId(draft)}${draft.suffix ?? ""}`);
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : bounded(`${base}#${count}`);
  });
}

function baseId(draft: DraftEntry): string {
  const { account, booking_date } = draft.fields;
  const prefix = `${account.replace(/\s+/g, "")}:${booking_date.replace(/-/g, "")}`;
  if (draft.ref) return `${prefix}:${draft.ref.replace(/\s+/g, "_")}`;
  return `${prefix}:h${hash(contentOf(draft)).slice(0, 16)}`;
}

/** What makes a line without a reference: everything that would differ between two real lines. */
function contentOf(draft: DraftEntry): string[] {
  const f = draft.fields;
  return [
    f.account,
    f.booking_date,
    f.value_date,
    String(f.amount_minor),
    f.currency,
    f.direction,
    f.end_to_end_id ?? "",
    f.remittance_info ?? "",
    ...draft.hashParts,
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
