-- One index of runnable flows, not two: every claim asks per client account, through
-- `flows_runnable_by_account` (same predicate), so `flows_runnable` only cost each create
-- and each engine step an index write. As PostgreSQL's 0011.
DROP INDEX flows_runnable;
