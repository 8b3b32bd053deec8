-- Derived state: what the reconciler concluded from the facts. Rewritten by
-- the reconciler only, always in the transaction that stored the facts.

create table payments (
  id                    text primary key,
  reference             text not null,
  reference_key         text not null,
  gateway               text not null,
  direction             text not null,
  currency              text not null,
  amount_minor          bigint not null,
  counterparty          text,
  counterparty_name     text,
  created_at            timestamptz not null,
  due_at                timestamptz not null,
  cancelled             boolean not null,
  status                text not null,
  settled_amount_minor  bigint not null default 0,
  at_risk_minor         bigint not null default 0,
  failure_category      text,
  failure_code          text,
  failure_message       text,
  retry_advice          text,
  hold_reason           text,
  settled_late          boolean not null default false,
  settled_on            date,
  accepted_at           timestamptz,
  overdue_since         timestamptz,
  flags                 text[] not null default '{}',
  status_reason         text not null default '',
  status_since          timestamptz not null,
  next_deadline         timestamptz,
  body                  jsonb not null,
  -- what the last reconciliation concluded, compared to skip rewriting unchanged rows
  outcome_signature     text,
  updated_at            timestamptz not null
);
create index payments_reference on payments (reference_key);
create index payments_deadline on payments (next_deadline) where next_deadline is not null;
create index payments_listing on payments (created_at desc, id desc);
create index payments_status on payments (status, gateway, direction);
create index payments_counterparty on payments (counterparty, created_at desc) where counterparty is not null;
create index payments_unsettled on payments (gateway, direction, created_at)
  where status in ('pending', 'in_flight', 'partially_settled', 'delayed', 'held');

-- Amount-match candidates: one row per installment plus one (idx -1) for the
-- whole amount, on the direction of the bank entry that would settle it.
create table payment_installments (
  payment_id        text not null references payments (id),
  idx               integer not null,
  amount_minor      bigint not null,
  currency          text not null,
  settle_direction  text not null,
  due_date          date not null,
  primary key (payment_id, idx)
);
create index payment_installments_amount on payment_installments (currency, settle_direction, amount_minor, due_date);

create table settlement_batches (
  gateway           text not null,
  batch_id          text not null,
  batch_key         text not null,
  event_id          text not null,
  gross_minor       bigint not null,
  fee_minor         bigint not null,
  net_minor         bigint not null,
  currency          text not null,
  expected_arrival  date not null,
  occurred_at       timestamptz not null,
  received_at       timestamptz not null,
  state             text not null default 'waiting',
  settled_on        date,
  difference_minor  bigint,
  primary key (gateway, batch_id)
);
create index settlement_batches_key on settlement_batches (batch_key);
create index settlement_batches_amount on settlement_batches (currency, net_minor, expected_arrival);

create table bank_entry_matches (
  entry_seq           bigint primary key references bank_entries (seq),
  kind                text not null,
  method              text,
  payment_id          text,
  batch_gateway       text,
  batch_id            text,
  candidates          text[] not null default '{}',
  unmatched_deadline  timestamptz,
  updated_at          timestamptz not null
);
create index bank_entry_matches_payment on bank_entry_matches (payment_id) where payment_id is not null;
create index bank_entry_matches_batch on bank_entry_matches (batch_gateway, batch_id) where batch_id is not null;
create index bank_entry_matches_candidates on bank_entry_matches using gin (candidates);
create index bank_entry_matches_deadline on bank_entry_matches (unmatched_deadline) where unmatched_deadline is not null;

-- Gateway events whose reference names no expected payment (yet).
create table gateway_event_orphans (
  event_seq      bigint primary key references gateway_events (seq),
  gateway        text not null,
  reference_key  text not null,
  deadline       timestamptz
);
create index gateway_event_orphans_reference on gateway_event_orphans (reference_key);
create index gateway_event_orphans_deadline on gateway_event_orphans (deadline) where deadline is not null;

-- Every status change: the timeline's status entries and the findings' source.
create table status_changes (
  id           bigserial primary key,
  payment_id   text not null,
  at           timestamptz not null,
  from_status  text,
  to_status    text not null,
  reason       text not null,
  detail       jsonb not null default '{}'
);
create index status_changes_payment on status_changes (payment_id, id);

-- Exceptions: one row per (kind, subject), opened, resolved and re-opened,
-- never deleted. `owner` is the evaluation that decides it (a payment, an
-- entry, a batch or a gateway event), so re-evaluating an owner settles
-- exactly its exceptions.
create table exceptions (
  id             bigserial primary key,
  kind           text not null,
  subject_type   text not null,
  subject_key    text not null,
  owner          text not null,
  payment_id     text,
  bank           text,
  entry_id       text,
  gateway        text,
  event_id       text,
  batch_id       text,
  amount_minor   bigint not null,
  currency       text not null,
  direction      text,
  detail         text not null,
  state          text not null,
  priority       text not null default 'p3',
  due_by         timestamptz,
  opened_at      timestamptz not null,
  updated_at     timestamptz not null,
  resolved_at    timestamptz,
  -- 'auto' when the facts recovered, 'manual' when an operator resolved it:
  -- a manual resolution stands until the facts say something new.
  resolution     text,
  unique (kind, subject_key)
);
create index exceptions_owner on exceptions (owner) where state <> 'resolved';
create index exceptions_open on exceptions (opened_at, id) where state <> 'resolved';
create index exceptions_payment on exceptions (payment_id) where payment_id is not null;

create table exception_audit (
  id            bigserial primary key,
  exception_id  bigint not null references exceptions (id),
  at            timestamptz not null,
  actor         text not null,
  action        text not null,
  note          text
);
create index exception_audit_exception on exception_audit (exception_id, id);

-- Counts and amounts at risk by status, maintained by deltas in the
-- reconciling transaction: the gauges read this small table, never payments.
create table payment_totals (
  status        text not null,
  direction     text not null,
  gateway       text not null,
  currency      text not null,
  count         bigint not null default 0,
  at_risk_minor bigint not null default 0,
  primary key (status, direction, gateway, currency)
);
