-- Our own automatic Stripe payouts waiting for their composition. payout.paid says only
-- the amount; the gross, fee and payments it settles come from its balance transactions,
-- which arrive separately (raw topic, or fetched from Stripe's API). A payout becomes a
-- settlement.batch gateway event once its transactions net to its amount, never before.
create table stripe_payouts (
  payout_id       text primary key,
  payout          jsonb not null,
  paid_at_seconds bigint not null,
  received_at     timestamptz not null,
  composed_at     timestamptz,
  -- Why it is still waiting (the last composition attempt's answer), for operators.
  waiting_reason  text,
  -- Last time its transactions were asked of Stripe's API: waiting payouts take turns.
  fetched_at      timestamptz
);
create index stripe_payouts_waiting on stripe_payouts (received_at) where composed_at is null;

create table stripe_balance_transactions (
  transaction_id text primary key,
  payout_id      text not null,
  body           jsonb not null,
  received_at    timestamptz not null
);
create index stripe_balance_transactions_payout on stripe_balance_transactions (payout_id);
