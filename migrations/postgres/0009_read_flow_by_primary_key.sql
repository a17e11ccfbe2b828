-- The read of one flow compares the engagement with IS NOT DISTINCT FROM (the same as `=`
-- on this NOT NULL column), which PostgreSQL cannot make an index condition: with `=` the
-- tenant list's index (client_account_id, engagement_id, created_at, id) matched all three
-- terms, cost the same as the primary key on a table without statistics and was chosen,
-- and each read walked every flow of the engagement (bench/api.sh: 8.4k GET/s on a table
-- of one flow, 0.7k once 24k flows had been created). `store::ONE_FLOW_IN_SCOPE` says the
-- same for the API's other reads of one flow. Otherwise as 0005.
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
           p.idx, p.name, p.status, p.needs_input, p.attempts, p.started_at,
           p.completed_at, p.duration_ms, p.output, p.error
    FROM flows f LEFT JOIN flow_phases p
         ON p.flow_id = f.id AND p.client_account_id = f.client_account_id
    WHERE f.id = flow AND f.client_account_id = account
      AND f.engagement_id IS NOT DISTINCT FROM engagement
      AND f.status <> 'deleted'
    ORDER BY p.idx;
END
$$;
