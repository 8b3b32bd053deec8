-- Issue 15: findings are published from the rows reconciliation writes anyway — a payment's status change
-- (status_changes) and an exception's opening or closing (exception_audit) — instead of an outbox row written,
-- read back and deleted per finding. Each such row carries what its finding says that the row itself does not
-- (the payment as it was at that change; the exception's subject, amount and detail then), written only when
-- findings are published (Kafka configured): null otherwise, and for audit rows that are not findings.
alter table status_changes add column finding jsonb;
alter table exception_audit add column finding jsonb;

-- The publisher follows both by (at, id): `at` is the reconciliation's time, taken under the reconciliation
-- lock and unique per reconciliation, so its order is commit order (see src/kafka/findingsPublisher.ts).
create index status_changes_findings on status_changes (at, id) where finding is not null;
create index exception_audit_findings on exception_audit (at, id) where finding is not null;

-- How far findings are in Kafka: the last published row of each table. One row; a publisher holds it locked
-- while it sends, so one instance publishes at a time and findings reach Kafka in commit order.
create table findings_cursor (
  singleton           boolean primary key default true check (singleton),
  status_change_at    timestamptz not null,
  status_change_id    bigint not null,
  exception_audit_at  timestamptz not null,
  exception_audit_id  bigint not null
);
insert into findings_cursor (status_change_at, status_change_id, exception_audit_at, exception_audit_id)
values ('-infinity', 0, '-infinity', 0);

-- Findings still in the outbox from before this migration are published from there (the outbox stays, for
-- dead letters and notifications).
