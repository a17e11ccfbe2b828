-- Lists are read through an index that leads with the engagement (which belongs to one
-- account), not with the account: the account's index `flows_tenant_list` also matched
-- the account term of every read of one flow (the query's and row-level security's), and
-- a plan made while `flows` was small (a new database) could choose it over the primary
-- key and keep it, cached per connection, until the next ANALYZE. Where nothing ANALYZEs
-- (autovacuum off, as on the bench machine), each read of one flow then walked all the
-- account's flows: bench/api.sh's GET fell from 6.0k to 1.65k req/s after 15k creates
-- (pg_stat_user_indexes: the GETs all on flows_tenant_list). Reads of one flow compare the
-- engagement with IS NOT DISTINCT FROM (0009, `store::ONE_FLOW_IN_SCOPE`), which no index
-- can use, so the primary key is the only index that matches them.
-- The list's query filters by account and engagement and orders by (created_at, id)
-- descending, which this index serves as the old one did.
CREATE INDEX flows_engagement_list ON flows (engagement_id, created_at DESC, id DESC);
DROP INDEX flows_tenant_list;
