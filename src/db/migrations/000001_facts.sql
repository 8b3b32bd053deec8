-- Facts: append-only, one table per input topic, each with its natural unique
-- key so a re-delivered message is a no-op (insert ... on conflict do nothing).

create table expected_payment_versions (
  seq            bigserial primary key,
  payment_id     text not null,
  -- sha256 of the message as received: the same message twice is one version.
  content_hash   bytea not null,
  -- optional explicit version from the producer; otherwise arrival order decides.
  version        integer,
  cancelled      boolean not null,
  body           jsonb not null,
  source         text not null,
  received_at    timestamptz not null default now(),
  unique (payment_id, content_hash)
);
create index expected_payment_versions_payment on expected_payment_versions (payment_id, seq);

create table gateway_events (
  seq                 bigserial primary key,
  gateway             text not null,
  event_id            text not null,
  type                text not null,
  reference           text,
  reference_key       text,
  batch_id            text,
  gateway_payment_id  text,
  amount_minor        bigint not null,
  currency            text not null,
  occurred_at         timestamptz not null,
  failure_code        text,
  hold_reason         text,
  body                jsonb not null,
  source              text not null,
  received_at         timestamptz not null default now(),
  unique (gateway, event_id)
);
create index gateway_events_reference on gateway_events (reference_key) where reference_key is not null;
create index gateway_events_batch on gateway_events (gateway, batch_id) where batch_id is not null;

-- The expected-payment references a settlement.batch contains (up to 10,000 each).
create table batch_references (
  gateway        text not null,
  batch_id       text not null,
  reference_key  text not null,
  primary key (gateway, batch_id, reference_key)
);
create index batch_references_reference on batch_references (reference_key);

create table bank_entries (
  seq                bigserial primary key,
  bank               text not null,
  entry_id           text not null,
  account            text not null,
  direction          text not null,
  amount_minor       bigint not null,
  currency           text not null,
  booking_date       date not null,
  value_date         date not null,
  status             text not null,
  end_to_end_id      text,
  remittance_info    text,
  counterparty_name  text,
  return_reason      text,
  body               jsonb not null,
  source             text not null,
  received_at        timestamptz not null default now(),
  unique (bank, entry_id)
);
create index bank_entries_amount on bank_entries (currency, direction, amount_minor, value_date);

-- Upper-cased tokens of end_to_end_id and remittance_info: references and batch
-- ids are found as whole tokens ("ORD-1" never matches "ORD-10").
create table bank_entry_tokens (
  token      text not null,
  entry_seq  bigint not null references bank_entries (seq),
  primary key (token, entry_seq)
);

-- Every rejected input, from Kafka or HTTP: nothing is silently dropped. A Kafka
-- message is recorded once per (topic, partition, offset), so a re-delivered
-- poison message is not dead-lettered twice.
create table rejected_messages (
  id           bigserial primary key,
  source       text not null,
  topic        text not null,
  partition    integer,
  "offset"     bigint,
  message_key  bytea,
  value        bytea not null,
  reason       text not null,
  detail       text not null,
  received_at  timestamptz not null default now(),
  unique (topic, partition, "offset")
);

-- Messages to publish (dead letters, findings), written in the same transaction
-- as the facts that caused them and published after commit: none can be lost.
create table outbox (
  id            bigserial primary key,
  topic         text not null,
  message_key   bytea,
  value         bytea not null,
  headers       jsonb not null default '{}',
  created_at    timestamptz not null default now(),
  published_at  timestamptz
);
create index outbox_unpublished on outbox (id) where published_at is null;

-- Newest event per topic and source, for payrecon_last_event_timestamp_seconds
-- (read at start so the gauge survives restarts).
create table source_freshness (
  topic        text not null,
  source       text not null,
  last_event   timestamptz not null,
  primary key (topic, source)
);
