-- Issue 15 (WAL per message): a payment row kept `body`, a copy of its version in force (~250 bytes of the ~520
-- of the row), although expected_payment_versions holds that version and the row's columns hold its fields. Its
-- one reader is the API's `installments`: the row keeps only those (null for a payment without), so every
-- payment insert and every status update writes a row half as wide.
alter table payments add column installments jsonb;
update payments set installments = body -> 'installments'
 where body ? 'installments' and jsonb_typeof(body -> 'installments') = 'array';
alter table payments drop column body;
