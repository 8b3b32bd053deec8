-- Engine v2 leadership (RECONCILE_ENGINE=memory): the instance holding the writer lock bumps the epoch when it
-- takes over, and every transaction it reconciles reads the epoch `for share` and fails unless it is still its
-- own. A leader that was paused or cut off while another took over can then never commit through its working
-- set; the bump waits for the old leader's transactions that checked the epoch already.
create table writer_epoch (
  singleton boolean primary key default true check (singleton),
  epoch     bigint not null
);
insert into writer_epoch (epoch) values (0);
