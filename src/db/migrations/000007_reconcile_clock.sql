-- The time of the last reconciliation, across every instance. Reconciliations are serialized
-- (one advisory lock), and each takes its clock's time or, if that is not later, 1 ms after this
-- one, so a finding's `at`, a status's `status_since` and the status history only go forward
-- in commit order, whatever the instances' clocks say.
create table reconcile_clock (
  singleton boolean primary key default true check (singleton),
  at        timestamptz not null
);
insert into reconcile_clock (at) values ('-infinity');
