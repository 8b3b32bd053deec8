-- Throughput (issue 7): fewer index entries per payment row written, and no foreign-key checks on rows
-- payrecon writes in the transaction that wrote or read what they reference.

-- Only ambiguous matches have candidates; the reconciler reads them by scanning the ambiguous ones
-- (a GIN index over every match was updated on each write and not used for a thousand-key lookup).
drop index bank_entry_matches_candidates;
create index bank_entry_matches_ambiguous on bank_entry_matches (entry_seq) include (candidates)
  where kind = 'ambiguous';

-- One index on (created_at, id) serves both the newest-first listing (keyset on created_at, id) and the
-- report (it carries the summed and grouped columns, so a report still reads only the index). It
-- replaces payments_listing and payments_report: one index entry less per payment row written.
drop index payments_listing;
drop index payments_report;
create index payments_created on payments (created_at, id)
  include (gateway, currency, direction, status, amount_minor, settled_amount_minor, overdue_since, due_at);

-- payments_status indexed every payment; its readers want a few statuses. Item alerts read failed,
-- held and delayed payments by amount at risk, the report's aging reads delayed ones (without reading
-- the rows): partial indexes hold only those, so most status changes add no entry to them. The
-- listing's status filter is served by payments_created and these.
drop index payments_status;
create index payments_at_risk on payments (at_risk_minor desc) where status in ('failed', 'held', 'delayed');
create index payments_delayed on payments (created_at)
  include (gateway, currency, direction, amount_minor, settled_amount_minor, overdue_since, due_at)
  where status = 'delayed';

-- Rows written only by payrecon, with or after their parent in the same transaction (tokens with their
-- entry, installments and matches by the reconciler): a foreign-key check per row, which also locks
-- and dirties the parent row, buys nothing here.
alter table payment_installments drop constraint payment_installments_payment_id_fkey;
alter table bank_entry_tokens drop constraint bank_entry_tokens_entry_seq_fkey;
alter table bank_entry_matches drop constraint bank_entry_matches_entry_seq_fkey;
alter table gateway_event_orphans drop constraint gateway_event_orphans_event_seq_fkey;
