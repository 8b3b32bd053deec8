-- CONTRACT §8 "FX": a bank line may carry what the payer instructed (amount and currency) and the rate applied.
-- The instructed amount is a second amount the line can match a payment by, so the SQL candidate lookups read it
-- from a column with its own index, as they read amount_minor (only lines that carry one are indexed).
alter table bank_entries
  add column instructed_amount_minor bigint generated always as ((body ->> 'instructed_amount_minor')::bigint) stored,
  add column instructed_currency text generated always as (body ->> 'instructed_currency') stored;
create index bank_entries_instructed_amount on bank_entries (instructed_currency, direction, instructed_amount_minor, value_date)
  where instructed_currency is not null;

-- A payment settled by lines in another currency: their currency and amount, and the FX difference in the
-- payment's currency (converted − settled; 0 for instructed amounts). Null when no such line settled it.
alter table payments
  add column fx_line_currency text,
  add column fx_line_amount_minor bigint,
  add column fx_difference_minor bigint;
