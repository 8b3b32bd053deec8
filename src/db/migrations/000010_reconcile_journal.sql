-- What each reconciling transaction stored, in commit order (its reconcile clock time, taken under the
-- reconciliation lock): the memory engine (RECONCILE_ENGINE=memory) catches up on facts other
-- processes stored since its own last commit from here, instead of reloading everything.
-- Kept for a while only: an engine further behind than the oldest row loads its working set whole.
create table reconcile_journal (
  at          timestamptz primary key,
  payment_ids text[] not null,
  event_seqs  bigint[] not null,
  entry_seqs  bigint[] not null,
  -- Entries an operator's decision (or the sql engine's sweeper) asked to match again.
  recheck_entry_seqs bigint[] not null default '{}'
);

-- The newest time pruned from the journal: an engine whose last commit is older has missed rows.
create table reconcile_journal_pruned (
  singleton boolean primary key default true check (singleton),
  through   timestamptz not null
);
insert into reconcile_journal_pruned (through) values ('-infinity');
