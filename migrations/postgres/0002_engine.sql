-- Engine wake-ups across processes: whenever a flow becomes runnable (created, resumed,
-- approved, retried, advanced to its next phase, or a retry scheduled), notify channel
-- `flowgate_flows`; every server process LISTENs and wakes one idle worker. Identical
-- notifications within one transaction are collapsed by PostgreSQL.

CREATE OR REPLACE FUNCTION flowgate_notify_runnable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.runnable_at IS NOT NULL AND NEW.status IN ('initialized', 'running') THEN
        PERFORM pg_notify('flowgate_flows', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER flows_notify_runnable
    AFTER INSERT OR UPDATE OF runnable_at, status ON flows
    FOR EACH ROW EXECUTE FUNCTION flowgate_notify_runnable();
