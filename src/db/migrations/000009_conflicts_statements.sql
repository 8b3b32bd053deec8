-- Same key, different content (CONTRACT §8) is a conflict, never a duplicate: the first version stays in its
-- fact table and in force; every other version received for that key is kept here, beside the exception it
-- raised, so both contents can be read until an operator acts.
create table input_conflicts (
  id             bigserial primary key,
  topic          text not null,
  -- The exception subject: payment:ID, gateway_event:GATEWAY/ID or bank_entry:BANK/ID.
  subject_key    text not null,
  exception_id   bigint references exceptions (id),
  first_body     jsonb not null,
  received_body  jsonb not null,
  -- sha256 of the received version's canonical JSON: a re-delivered conflicting message is one row.
  received_hash  bytea not null,
  source         text not null,
  received_at    timestamptz not null default now(),
  unique (subject_key, received_hash)
);

-- Statement summaries from the bank topic (CONTRACT §8 "Statements"), checked once all their lines are stored.
create table bank_statements (
  seq                  bigserial primary key,
  bank                 text not null,
  statement_id         text not null,
  account              text not null,
  currency             text not null,
  from_date            date not null,
  to_date              date not null,
  opening_booked_minor bigint not null,
  closing_booked_minor bigint not null,
  entry_ids            text[] not null,
  body                 jsonb not null,
  source               text not null,
  received_at          timestamptz not null default now(),
  -- null until every line is stored; then 'balanced' or 'imbalanced'.
  balance_result       text,
  -- Σ of its stored lines (credits positive, debits negative, pending lines left out), once all are stored.
  lines_net_minor      bigint,
  unique (bank, statement_id)
);
create index bank_statements_account on bank_statements (bank, account, currency, from_date, to_date);
-- Which statements wait for a line: a line that arrives after its summary finds them here.
create table bank_statement_lines (
  bank          text not null,
  entry_id      text not null,
  statement_seq bigint not null references bank_statements (seq),
  primary key (bank, entry_id, statement_seq)
);
