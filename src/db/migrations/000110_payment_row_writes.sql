-- Issue 15: less written per payment row (each index is an entry per row written, each column an index names
-- keeps an update of that column from being HOT).

-- Room on each page for a row's next version: an update that changes no indexed column (a new reason, flags,
-- outcome signature or updated_at with the same status and deadline) can stay on its page as a HOT update and
-- write no index entry; on full pages (fillfactor 100) it found no room. Only pages written from now on keep it.
alter table payments set (fillfactor = 90);

-- payments_created carried the report's grouped and summed columns (000006) so the report read only the index.
-- That made every payment's entry ~70 bytes wider and status, settled amount and overdue date index columns, and
-- a report over a period updated since the last vacuum fetched the rows anyway (index-only scans need the
-- visibility map). The keyset listing needs (created_at, id); a report over a long period reads the rows in one
-- pass (the cost of a bare GROUP BY), over a short one through this index.
drop index payments_created;
create index payments_created on payments (created_at, id);

-- The report's FX differences read only payments settled by lines in another currency: a few, in a partial
-- index that carries what the report sums, instead of a second pass over the period's rows. Its columns change
-- only with a settlement, a status change that is never HOT anyway.
create index payments_fx_lines on payments (created_at)
  include (gateway, currency, direction, fx_line_currency, fx_line_amount_minor, fx_difference_minor)
  where fx_line_currency is not null;
