-- Issue 15: where each consumer group stands in each input partition (the next offset to read), written in the
-- transaction that stored the messages before it. PostgreSQL, not Kafka's committed offset, says where a restart or
-- a partition taken over from another instance resumes: a crash between the commit and the offset commit then
-- re-reads nothing.
create table consumer_positions (
  group_id text not null,
  topic text not null,
  partition integer not null,
  next_offset bigint not null check (next_offset >= 0),
  updated_at timestamptz not null default now(),
  primary key (group_id, topic, partition)
);
