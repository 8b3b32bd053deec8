-- Issue 15: every reader of expected_payment_versions asks for the versions of some payments (payment_id = ...
-- or = any(...)), a few rows each, sorted by seq after reading them. The unique (payment_id, content_hash) index,
-- needed anyway to store a re-delivered version once, leads with payment_id and serves them: the second index on
-- (payment_id, seq) was one more entry written per version.
drop index expected_payment_versions_payment;
