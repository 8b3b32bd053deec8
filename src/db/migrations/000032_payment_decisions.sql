-- Operators' write-off / reopen decisions on expected payments (CONTRACT §7): facts, never deleted, applied by
-- the reconciler in `seq` order (the later decision wins). A payment written off is `written_off` until a
-- reopen, or until the facts settle, refund, charge back or cancel it (late truth wins).
create table payment_decisions (
  seq         bigserial primary key,
  payment_id  text not null,
  action      text not null check (action in ('write_off', 'reopen')),
  actor       text not null,
  note        text,
  decided_at  timestamptz not null
);
create index payment_decisions_payment on payment_decisions (payment_id, seq);
