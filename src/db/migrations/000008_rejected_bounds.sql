-- Rejected messages are bounded (issue 14): anyone able to send a rejected message could fill the disk.
-- A value longer than REJECTED_MESSAGE_MAX_BYTES is stored cut, with its original size and SHA-256;
-- retention deletes by age and by total size, oldest first (received_at, id).
alter table rejected_messages
  add column original_bytes  integer,
  add column original_sha256 bytea;
create index rejected_messages_received on rejected_messages (received_at, id);
