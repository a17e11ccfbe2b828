-- Creates: one round trip, and no NOTIFY of their own.
--
-- 1. A NOTIFY makes its transaction take PostgreSQL's notify-queue lock at commit, held
--    through the commit's WAL flush: with the trigger firing on every INSERT, concurrent
--    creates committed one at a time. Measured with pgbench on the bench machine (8
--    clients, the flow insert alone as one statement): 2.4k/s with the trigger, 5.7k/s
--    without. New flows are now announced by the API process, coalesced: at most one
--    NOTIFY per few milliseconds whatever the create rate (`store::wakeups`). Updates
--    that make a flow claimable (a release, a resume, a retry) still notify here.
DROP TRIGGER flows_notify_runnable ON flows;
CREATE TRIGGER flows_notify_runnable
    AFTER UPDATE OF runnable_at, status, lease_owner ON flows
    FOR EACH ROW EXECUTE FUNCTION flowgate_notify_runnable();

-- 2. The flow, its phase rows and its `created` event (seq 1) inserted by one statement
--    with no transaction to open or end, answered with the rows as stored in
--    `flowgate_api.read_flow`'s shape. As that function: SECURITY DEFINER, owned by
--    `flowgate_app`, so row-level security's WITH CHECK applies to every row inserted; it
--    sets the tenant first. `new_phases` is the flow type's phase list in order,
--    `[{"name": .., "needs_input": ..}, ..]`. An idempotent create calls it inside the
--    transaction that first looked the key up.
GRANT CREATE ON SCHEMA flowgate_api TO flowgate_app;

CREATE FUNCTION flowgate_api.create_flow(
    new_id uuid, new_account uuid, new_engagement uuid, new_flow_type text,
    new_flow_name text, new_configuration jsonb, new_initial_data jsonb, new_metadata jsonb,
    new_idempotency_key text, new_request_hash text, new_at timestamptz, new_phases jsonb)
RETURNS TABLE (
    id uuid, flow_type text, flow_name text, status text, current_phase_index integer,
    client_account_id uuid, engagement_id uuid, configuration jsonb, initial_data jsonb,
    metadata jsonb, error jsonb, created_at timestamptz, updated_at timestamptz,
    completed_at timestamptz, p_idx integer, p_name text, p_status text, p_needs_input boolean,
    p_attempts integer, p_started_at timestamptz, p_completed_at timestamptz,
    p_duration_ms bigint, p_output jsonb, p_error text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('flowgate.client_account_id', new_account::text, true);
    RETURN QUERY
    WITH f AS (
        INSERT INTO flows (id, client_account_id, engagement_id, flow_type, flow_name, status,
            current_phase_index, configuration, initial_data, metadata, idempotency_key,
            request_hash, runnable_at, created_at, updated_at)
        VALUES (new_id, new_account, new_engagement, new_flow_type, new_flow_name,
            'initialized', 0, new_configuration, new_initial_data, new_metadata,
            new_idempotency_key, new_request_hash, new_at, new_at, new_at)
        RETURNING *
    ), p AS (
        INSERT INTO flow_phases (flow_id, client_account_id, idx, name, status, needs_input)
        SELECT new_id, new_account, (e.ord - 1)::integer, e.phase->>'name', 'pending',
               (e.phase->>'needs_input')::boolean
        FROM jsonb_array_elements(new_phases) WITH ORDINALITY AS e(phase, ord)
        RETURNING *
    ), ev AS (
        INSERT INTO flow_events (flow_id, client_account_id, seq, at, kind, to_status)
        VALUES (new_id, new_account, 1, new_at, 'created', 'initialized')
    )
    SELECT f.id, f.flow_type, f.flow_name, f.status, f.current_phase_index,
           f.client_account_id, f.engagement_id, f.configuration, f.initial_data,
           f.metadata, f.error, f.created_at, f.updated_at, f.completed_at,
           p.idx, p.name, p.status, p.needs_input, p.attempts, p.started_at,
           p.completed_at, p.duration_ms, p.output, p.error
    FROM f LEFT JOIN p ON true
    ORDER BY p.idx;
END
$$;
ALTER FUNCTION flowgate_api.create_flow(uuid, uuid, uuid, text, text, jsonb, jsonb, jsonb,
    text, text, timestamptz, jsonb) OWNER TO flowgate_app;
REVOKE CREATE ON SCHEMA flowgate_api FROM flowgate_app;
REVOKE ALL ON FUNCTION flowgate_api.create_flow(uuid, uuid, uuid, text, text, jsonb, jsonb,
    jsonb, text, text, timestamptz, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flowgate_api.create_flow(uuid, uuid, uuid, text, text, jsonb,
    jsonb, jsonb, text, text, timestamptz, jsonb) TO CURRENT_USER;
