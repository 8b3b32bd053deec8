-- Reports aggregate in SQL over a created_at range. This index serves the
-- range and the grouping columns, and carries the summed ones (INCLUDE), so
-- a report reads the index, not every payment row.
create index payments_report on payments (created_at, gateway, currency, direction, status)
  include (amount_minor, settled_amount_minor, overdue_since, due_at);

-- Unresolved unmatched bank entries: a small set, read by the report.
create index exceptions_unmatched_entries on exceptions (bank, entry_id)
  where kind = 'unmatched' and subject_type = 'bank_entry' and state <> 'resolved';
