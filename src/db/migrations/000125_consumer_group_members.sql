-- Engine v2 takeover (RECONCILE_ENGINE=memory): the consumer-group members of the instances, per group. A standby
-- that takes the writer lock removes every other recorded member from the group at once (LeaveGroup on its behalf):
-- the dead writer's (and a writer's killed during its own takeover) so the group rebalances without waiting for
-- their sessions to expire; live standbys simply rejoin. A hint only: a member gone already is answered
-- UNKNOWN_MEMBER_ID, and the epoch in the member metadata decides who is assigned.
create table consumer_group_members (
  group_id  text not null,
  member_id text not null,
  primary key (group_id, member_id)
);
