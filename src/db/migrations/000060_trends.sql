-- Trends on the status page (issue 18) are rebuilt from status_changes, the history payrecon already keeps.
-- Each series reads one slice of it through a partial index on the change time, so drawing the last day
-- reads that day's failures, settlements and exits from an at-risk status, never the whole history.
create index status_changes_failed on status_changes (at) include (payment_id) where to_status = 'failed';
create index status_changes_settled on status_changes (at) include (payment_id) where to_status = 'settled';
create index status_changes_left_at_risk on status_changes (at)
  where from_status in ('failed', 'held', 'delayed', 'mismatch');
-- Payments at risk now, mismatch included (payments_at_risk leaves it out), with when that status began.
create index payments_at_risk_since on payments (status_since)
  include (currency, at_risk_minor) where status in ('failed', 'held', 'delayed', 'mismatch');
