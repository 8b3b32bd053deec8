-- The hash of the expected-payment version in force (and whether it is cancelled): a payment touched
-- by a gateway event or a bank line keeps its identity, and its row and installments are not rewritten.
alter table payments add column identity_hash text;
