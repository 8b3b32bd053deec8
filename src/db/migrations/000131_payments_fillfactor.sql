-- Issue 15 (WAL per message): with the row half as wide (000130) most status updates still moved the row to another
-- page: the update then first writes a lock record for the old version (~54 bytes) and the new version whole, where
-- an update on the same page writes only the bytes that changed in the middle of the row (PostgreSQL logs the
-- unchanged prefix and suffix by length) and may be HOT. A third of each new page left free keeps most next versions
-- on their page (measured: lock records from ~0.17 to ~0 per message, update records 286 → 236 bytes). Only pages
-- written from now on keep the room; the table grows by that free space.
alter table payments set (fillfactor = 70);
