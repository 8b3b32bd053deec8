-- What the rule saw when it matched (CONTRACT §7 "explained matches"): written by the pure core's matchEntry
-- with the match, so it reads as the decision was taken. For an ambiguous entry, one per candidate, in the
-- order of `candidates`. Rows written before this migration have none until their entry is matched again.
alter table bank_entry_matches
  add column explanation text,
  add column candidate_explanations text[] not null default '{}';
