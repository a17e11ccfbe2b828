-- Wake-ups only for work a worker can claim. The first trigger (0002) notified on every
-- update of `status` or `runnable_at` of a runnable flow, including the claim itself
-- (status -> running) and a phase handed straight to the next one under the same lease:
-- each of those woke an idle worker for nothing and took PostgreSQL's notify queue lock
-- at commit. A flow is claimable when it is runnable and nobody holds its lease.
CREATE OR REPLACE FUNCTION flowgate_notify_runnable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.runnable_at IS NOT NULL AND NEW.status IN ('initialized', 'running')
       AND NEW.lease_owner IS NULL THEN
        PERFORM pg_notify('flowgate_flows', '');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER flows_notify_runnable ON flows;
CREATE TRIGGER flows_notify_runnable
    AFTER INSERT OR UPDATE OF runnable_at, status, lease_owner ON flows
    FOR EACH ROW EXECUTE FUNCTION flowgate_notify_runnable();
