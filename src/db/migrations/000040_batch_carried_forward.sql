-- CONTRACT §8 "Negative and carried-forward batches": a batch may carry a signed balance brought from earlier
-- batches (amount = gross − fee + carried forward); its net may be negative (paid by a bank debit) or zero
-- (settled on its expected arrival with no bank line: netted).
alter table settlement_batches
  add column carried_forward_minor bigint not null default 0,
  add column netted boolean generated always as (net_minor = 0) stored;
