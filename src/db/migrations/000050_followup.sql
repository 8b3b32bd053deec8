-- Follow-up (CONTRACT §9): what payrecon does after reconciliation concluded. These tables are
-- written from committed state (payments, exceptions) by the follow-up loop; they never change a status.

-- Outbound notifications: one row per notification, kept; `dedupe_key` makes each at most once
-- (one retry_suggested per failure, one reminder per dunning step…).
create table notifications (
  id          bigserial primary key,
  kind        text not null,
  dedupe_key  text not null unique,
  -- What the notification is about (a payment id, else the exception's subject): delivered in id order per key.
  order_key   text not null,
  payment_id  text,
  payload     jsonb not null,
  created_at  timestamptz not null
);
create index notifications_payment on notifications (payment_id, id) where payment_id is not null;

-- One delivery per notification and webhook URL: at least once, retried with backoff until `give_up_at`.
create table notification_deliveries (
  id               bigserial primary key,
  notification_id  bigint not null references notifications (id),
  destination      text not null,
  order_key        text not null,
  -- pending (not attempted, or being attempted), failed (its last attempt failed), delivered
  state            text not null default 'pending',
  attempts         integer not null default 0,
  -- When it may next be attempted; null once delivered or given up.
  next_attempt_at  timestamptz,
  give_up_at       timestamptz not null,
  last_error       text,
  delivered_at     timestamptz,
  unique (notification_id, destination)
);
create index notification_deliveries_due on notification_deliveries (next_attempt_at)
  where next_attempt_at is not null;
create index notification_deliveries_order on notification_deliveries (destination, order_key, notification_id)
  where next_attempt_at is not null;
create index notification_deliveries_failed on notification_deliveries (notification_id) where state = 'failed';

-- The delivery log: every attempt with its outcome.
create table notification_attempts (
  id           bigserial primary key,
  delivery_id  bigint not null references notification_deliveries (id),
  at           timestamptz not null,
  result       text not null,
  http_status  integer,
  error        text,
  duration_ms  integer not null
);
create index notification_attempts_delivery on notification_attempts (delivery_id, id);

-- Dunning records: one per episode of a delayed collection or a failed or held payout.
create table dunning_records (
  id           bigserial primary key,
  payment_id   text not null,
  -- The status that opened it: delayed, failed or held.
  reason       text not null,
  -- When the payment became due (delayed) or failed / was held: the steps count from here.
  since        timestamptz not null,
  opened_at    timestamptz not null,
  closed_at    timestamptz,
  -- The status the payment moved to when the record closed.
  closed_status text
);
create unique index dunning_records_open on dunning_records (payment_id) where closed_at is null;
create index dunning_records_listing on dunning_records (since, id) where closed_at is null;

create table dunning_steps (
  record_id   bigint not null references dunning_records (id),
  step        integer not null,
  due_at      timestamptz not null,
  -- scheduled (not yet reached), due, sent (a contact was recorded), skipped
  state       text not null default 'scheduled',
  changed_at  timestamptz,
  primary key (record_id, step)
);
create index dunning_steps_scheduled on dunning_steps (due_at) where state = 'scheduled';

-- Contacts an operator recorded, with the promise the counterparty made.
create table dunning_contacts (
  id                  bigserial primary key,
  record_id           bigint not null references dunning_records (id),
  exception_id        bigint references exceptions (id),
  at                  timestamptz not null,
  actor               text not null,
  channel             text not null,
  note                text,
  promised_by         date,
  -- null without a promise; pending, kept (paid, or the record closed), broken
  promise_state       text,
  promise_settled_at  timestamptz
);
create index dunning_contacts_record on dunning_contacts (record_id, id);
create index dunning_contacts_pending on dunning_contacts (promised_by) where promise_state = 'pending';
