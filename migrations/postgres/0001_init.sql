-- flowgate reference orchestrator, PostgreSQL schema.
--
-- Tenancy: every tenant table carries client_account_id (and engagement_id where the row
-- belongs to one engagement). The server's request queries run as role flowgate_app under
-- FORCE ROW LEVEL SECURITY with the tenant set per transaction:
--   SET LOCAL ROLE flowgate_app;
--   SELECT set_config('flowgate.client_account_id', $1, true);
-- so a query that forgets its WHERE still sees only that tenant's rows. The execution
-- engine claims work across tenants as role flowgate_engine, whose policies are explicit.

-- Roles are cluster-wide: tests migrate many fresh databases at once, so creation must
-- tolerate a concurrent creator (duplicate_object / unique_violation on pg_authid).
DO $$
BEGIN
    CREATE ROLE flowgate_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    CREATE ROLE flowgate_engine NOLOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The connecting user must be able to SET ROLE to both.
DO $$
BEGIN
    EXECUTE format('GRANT flowgate_app TO %I', current_user);
    EXECUTE format('GRANT flowgate_engine TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    -- Already a member, or a superuser: SET ROLE works either way.
    NULL;
END
$$;

CREATE TABLE client_accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE engagements (
    id                 uuid PRIMARY KEY,
    client_account_id  uuid NOT NULL REFERENCES client_accounts(id),
    name               text NOT NULL,
    is_default         boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX engagements_client ON engagements (client_account_id);

-- API keys are stored as SHA-256 of the secret; the prefix is for humans ("fg_1a2b...").
CREATE TABLE api_keys (
    id                 uuid PRIMARY KEY,
    client_account_id  uuid NOT NULL REFERENCES client_accounts(id),
    key_prefix         text NOT NULL,
    key_hash           text NOT NULL UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);

CREATE TABLE flows (
    id                   uuid PRIMARY KEY,
    client_account_id    uuid NOT NULL REFERENCES client_accounts(id),
    engagement_id        uuid NOT NULL REFERENCES engagements(id),
    flow_type            text NOT NULL,
    flow_name            text,
    -- initialized | running | waiting_for_input | paused | completed | failed | cancelled | deleted
    status               text NOT NULL,
    -- status to go back to on resume (running or waiting_for_input)
    paused_from          text,
    -- index of the current phase in the flow type's phase list; = phase count when done
    current_phase_index  integer NOT NULL DEFAULT 0,
    configuration        jsonb NOT NULL DEFAULT '{}'::jsonb,
    initial_data         jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- {phase, code, message} when failed
    error                jsonb,
    idempotency_key      text,
    request_hash         text,
    -- engine: the flow is claimable when runnable_at <= now() and no live lease holds it
    runnable_at          timestamptz,
    lease_owner          text,
    lease_expires_at     timestamptz,
    fencing_token        bigint NOT NULL DEFAULT 0,
    version              bigint NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    completed_at         timestamptz,
    deleted_at           timestamptz,
    UNIQUE (client_account_id, idempotency_key)
);
CREATE INDEX flows_tenant_list ON flows (client_account_id, engagement_id, created_at DESC, id DESC);
CREATE INDEX flows_runnable ON flows (runnable_at) WHERE runnable_at IS NOT NULL;

CREATE TABLE flow_phases (
    flow_id            uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    client_account_id  uuid NOT NULL,
    idx                integer NOT NULL,
    name               text NOT NULL,
    -- pending | running | waiting_for_input | completed | failed | skipped
    status             text NOT NULL DEFAULT 'pending',
    needs_input        boolean NOT NULL DEFAULT false,
    attempts           integer NOT NULL DEFAULT 0,
    started_at         timestamptz,
    completed_at       timestamptz,
    duration_ms        bigint,
    output             jsonb,
    input              jsonb,
    error              text,
    PRIMARY KEY (flow_id, idx)
);

CREATE TABLE flow_events (
    id                 bigserial PRIMARY KEY,
    flow_id            uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    client_account_id  uuid NOT NULL,
    seq                integer NOT NULL,
    at                 timestamptz NOT NULL DEFAULT now(),
    -- created | status_changed | phase_started | phase_completed | phase_failed |
    -- phase_retry_scheduled | input_received | ...
    kind               text NOT NULL,
    from_status        text,
    to_status          text,
    phase              text,
    detail             jsonb,
    UNIQUE (flow_id, seq)
);

-- Not tenant data: one row per live worker.
CREATE TABLE worker_heartbeats (
    worker_id   text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

-- Row-level security.
ALTER TABLE engagements ENABLE ROW LEVEL SECURITY;
ALTER TABLE engagements FORCE ROW LEVEL SECURITY;
ALTER TABLE flows ENABLE ROW LEVEL SECURITY;
ALTER TABLE flows FORCE ROW LEVEL SECURITY;
ALTER TABLE flow_phases ENABLE ROW LEVEL SECURITY;
ALTER TABLE flow_phases FORCE ROW LEVEL SECURITY;
ALTER TABLE flow_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE flow_events FORCE ROW LEVEL SECURITY;

-- Unset tenant => NULL => no row matches.
CREATE POLICY tenant_isolation ON engagements TO flowgate_app
    USING (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid)
    WITH CHECK (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON flows TO flowgate_app
    USING (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid)
    WITH CHECK (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON flow_phases TO flowgate_app
    USING (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid)
    WITH CHECK (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON flow_events TO flowgate_app
    USING (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid)
    WITH CHECK (client_account_id = nullif(current_setting('flowgate.client_account_id', true), '')::uuid);

-- The engine works across tenants by design (it claims whatever is runnable).
CREATE POLICY engine_all ON engagements TO flowgate_engine USING (true) WITH CHECK (true);
CREATE POLICY engine_all ON flows TO flowgate_engine USING (true) WITH CHECK (true);
CREATE POLICY engine_all ON flow_phases TO flowgate_engine USING (true) WITH CHECK (true);
CREATE POLICY engine_all ON flow_events TO flowgate_engine USING (true) WITH CHECK (true);

GRANT SELECT ON client_accounts, api_keys TO flowgate_app;
GRANT SELECT ON engagements TO flowgate_app;
GRANT SELECT, INSERT, UPDATE ON flows, flow_phases TO flowgate_app;
GRANT SELECT, INSERT ON flow_events TO flowgate_app;
GRANT USAGE, SELECT ON SEQUENCE flow_events_id_seq TO flowgate_app;

GRANT SELECT ON client_accounts, engagements TO flowgate_engine;
GRANT SELECT, UPDATE ON flows TO flowgate_engine;
GRANT SELECT, INSERT, UPDATE ON flow_phases TO flowgate_engine;
GRANT SELECT, INSERT ON flow_events TO flowgate_engine;
GRANT USAGE, SELECT ON SEQUENCE flow_events_id_seq TO flowgate_engine;
GRANT SELECT, INSERT, UPDATE, DELETE ON worker_heartbeats TO flowgate_engine;
