-- flowgate reference orchestrator, SQLite schema (the embedded, single-process default).
-- Same tables and columns as migrations/postgres; SQLite has no row-level security, so
-- tenant isolation rests on the queries' filters alone (see ARCHITECTURE.md).
-- uuids are TEXT (hyphenated), timestamps TEXT (RFC 3339, UTC), JSON TEXT.

CREATE TABLE client_accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE engagements (
    id                 TEXT PRIMARY KEY,
    client_account_id  TEXT NOT NULL REFERENCES client_accounts(id),
    name               TEXT NOT NULL,
    is_default         INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL
);
CREATE INDEX engagements_client ON engagements (client_account_id);

CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    client_account_id  TEXT NOT NULL REFERENCES client_accounts(id),
    key_prefix         TEXT NOT NULL,
    key_hash           TEXT NOT NULL UNIQUE,
    created_at         TEXT NOT NULL,
    revoked_at         TEXT
);

CREATE TABLE flows (
    id                   TEXT PRIMARY KEY,
    client_account_id    TEXT NOT NULL REFERENCES client_accounts(id),
    engagement_id        TEXT NOT NULL REFERENCES engagements(id),
    flow_type            TEXT NOT NULL,
    flow_name            TEXT,
    status               TEXT NOT NULL,
    paused_from          TEXT,
    current_phase_index  INTEGER NOT NULL DEFAULT 0,
    configuration        TEXT NOT NULL DEFAULT '{}',
    initial_data         TEXT NOT NULL DEFAULT '{}',
    metadata             TEXT NOT NULL DEFAULT '{}',
    error                TEXT,
    idempotency_key      TEXT,
    request_hash         TEXT,
    runnable_at          TEXT,
    lease_owner          TEXT,
    lease_expires_at     TEXT,
    fencing_token        INTEGER NOT NULL DEFAULT 0,
    version              INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    completed_at         TEXT,
    deleted_at           TEXT,
    UNIQUE (client_account_id, idempotency_key)
);
CREATE INDEX flows_tenant_list ON flows (client_account_id, engagement_id, created_at DESC, id DESC);
CREATE INDEX flows_runnable ON flows (runnable_at) WHERE runnable_at IS NOT NULL;

CREATE TABLE flow_phases (
    flow_id            TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    client_account_id  TEXT NOT NULL,
    idx                INTEGER NOT NULL,
    name               TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending',
    needs_input        INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    started_at         TEXT,
    completed_at       TEXT,
    duration_ms        INTEGER,
    output             TEXT,
    input              TEXT,
    error              TEXT,
    PRIMARY KEY (flow_id, idx)
);

CREATE TABLE flow_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_id            TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    client_account_id  TEXT NOT NULL,
    seq                INTEGER NOT NULL,
    at                 TEXT NOT NULL,
    kind               TEXT NOT NULL,
    from_status        TEXT,
    to_status          TEXT,
    phase              TEXT,
    detail             TEXT,
    UNIQUE (flow_id, seq)
);

CREATE TABLE worker_heartbeats (
    worker_id   TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
);
