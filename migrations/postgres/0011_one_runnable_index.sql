-- One index of runnable flows, not two. `flows_runnable (runnable_at)` predates fair
-- claiming (0003): every claim now asks per client account, through
-- `flows_runnable_by_account (client_account_id, runnable_at)`, which has the same
-- predicate. The only readers left of the global index were the idle worker's "when is
-- the next flow due" and the queue-depth gauge, which read every runnable flow either way
-- and do so through the account's index as well. Each create, and each engine step that
-- moves `runnable_at`, maintained both: pgbench on the bench machine, the create function
-- alone, 8 clients, alternated: 6.8k/6.0k creates/s without it against 5.4k/5.2k with it.
DROP INDEX flows_runnable;
