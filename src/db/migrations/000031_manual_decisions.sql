-- Operators' match / unmatch decisions on bank entries (CONTRACT §7): facts like the others, never deleted,
-- applied by the reconciler in `seq` order (the later decision on an entry wins). `target` is `payment:ID` or
-- `batch:GATEWAY/ID`. They are also the audit of the entry: who decided what, when, and why.
create table manual_decisions (
  seq         bigserial primary key,
  bank        text not null,
  entry_id    text not null,
  action      text not null check (action in ('match', 'unmatch')),
  target      text not null,
  actor       text not null,
  note        text,
  decided_at  timestamptz not null
);
create index manual_decisions_entry on manual_decisions (bank, entry_id, seq);
