-- Engine v2 takeover (RECONCILE_ENGINE=memory): the writer's Kafka consumer-group member, per group. A standby that
-- takes the writer lock removes the previous writer's member from the group at once (LeaveGroup on its behalf), so
-- the group rebalances to it without waiting for the dead member's session to expire. A hint only: a member that
-- is gone already is answered UNKNOWN_MEMBER_ID, and the epoch in the member metadata decides who is assigned.
create table writer_group_member (
  group_id  text primary key,
  epoch     bigint not null,
  member_id text not null
);
