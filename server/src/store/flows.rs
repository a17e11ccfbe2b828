//! Flows as the API creates, reads and lists them.

use crate::domain::catalogue::{self, FlowTypeSpec};
use crate::domain::{current_phase, progress, FlowStatus, FlowSummary, FlowView, PhaseView};
use crate::store::db::Db;
use crate::store::events::{append_event, NewEvent};
use crate::store::sql::{self, Row, Tx, P};
use crate::store::{begin_scoped, Role, Scope, StoreError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

const FLOW_COLUMNS: &str = "id, flow_type, flow_name, status, current_phase_index, client_account_id, \
     engagement_id, configuration, initial_data, metadata, error, created_at, updated_at, completed_at";

fn flow_from_row(r: &Row, phases: Vec<PhaseView>) -> Result<FlowView, sqlx::Error> {
    let flow_type = r.text("flow_type")?;
    let status = r.text("status")?;
    let spec = catalogue::flow_type(&flow_type);
    let total = phases.len() as i64;
    let completed = phases.iter().filter(|p| p.status == "completed").count() as i64;
    Ok(FlowView {
        flow_id: r.uuid("id")?,
        current_phase: current_phase(spec, &status, r.int("current_phase_index")?),
        progress_percentage: progress(completed, total),
        flow_type,
        flow_name: r.opt_text("flow_name")?,
        status,
        client_account_id: r.uuid("client_account_id")?,
        engagement_id: r.uuid("engagement_id")?,
        configuration: r.json("configuration")?,
        metadata: r.json("metadata")?,
        error: r.opt_json("error")?,
        phases,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
        completed_at: r.opt_ts("completed_at")?,
        initial_data: r.json("initial_data")?,
    })
}

/// The query that reads a flow with its phases inside a transaction (and on SQLite): one
/// row per phase, the flow's columns repeated; `$1` the flow, `$2` the account, `$3` the
/// engagement (compared as in [`crate::store::ONE_FLOW_IN_SCOPE`], which says why).
fn load_sql(include_deleted: bool) -> String {
    let flow_columns = FLOW_COLUMNS
        .split(", ")
        .map(|c| format!("f.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {flow_columns}, p.idx AS p_idx, p.name AS p_name, p.status AS p_status, \
         p.needs_input AS p_needs_input, p.attempts AS p_attempts, p.started_at AS p_started_at, \
         p.completed_at AS p_completed_at, p.duration_ms AS p_duration_ms, p.output AS p_output, \
         p.error AS p_error \
         FROM flows f LEFT JOIN flow_phases p \
         ON p.flow_id = f.id AND p.client_account_id = f.client_account_id \
         WHERE f.id = $1 AND f.client_account_id = $2 AND f.engagement_id IS NOT DISTINCT FROM $3{} \
         ORDER BY p.idx",
        if include_deleted {
            ""
        } else {
            " AND f.status <> 'deleted'"
        }
    )
}

/// A flow from the rows of a read: the flow's columns from the first row that has them,
/// its phases, in order, from the rows that have a phase. Both shapes in use read here:
/// the join of [`load_sql`] (every row both, or one row without a phase) and
/// `flowgate_api.read_flow` (the flow's row, then one row per phase).
fn flow_from_rows(rows: &[Row]) -> Result<Option<FlowView>, sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let at = |name| first.position(name);
    let (flow_id, idx, name, status, needs_input, attempts) = (
        at("id")?,
        at("p_idx")?,
        at("p_name")?,
        at("p_status")?,
        at("p_needs_input")?,
        at("p_attempts")?,
    );
    let (started_at, completed_at, duration_ms, output, error) = (
        at("p_started_at")?,
        at("p_completed_at")?,
        at("p_duration_ms")?,
        at("p_output")?,
        at("p_error")?,
    );
    let mut flow_row = None;
    let mut phases = Vec::with_capacity(rows.len());
    for p in rows {
        if flow_row.is_none() && !p.is_null(flow_id)? {
            flow_row = Some(p);
        }
        if p.is_null(idx)? {
            continue; // the flow's own row, or the LEFT JOIN's empty match
        }
        phases.push(PhaseView {
            name: p.text(name)?,
            status: p.text(status)?,
            needs_input: p.bool(needs_input)?,
            attempts: p.int(attempts)?,
            started_at: p.opt_ts(started_at)?,
            completed_at: p.opt_ts(completed_at)?,
            duration_ms: p.opt_int(duration_ms)?,
            output: p.opt_json(output)?,
            error: p.opt_text(error)?,
        });
    }
    match flow_row {
        Some(r) => flow_from_row(r, phases).map(Some),
        None => Ok(None),
    }
}

/// Reads one flow of the scope (deleted flows only when `include_deleted`) with its
/// phases, in one query, inside `tx`.
pub(crate) async fn load_flow(
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
    include_deleted: bool,
) -> Result<Option<FlowView>, sqlx::Error> {
    let rows = tx
        .fetch_all(
            &load_sql(include_deleted),
            &[id.into(), scope.account.into(), scope.engagement.into()],
        )
        .await?;
    flow_from_rows(&rows)
}

/// Reads one live (not deleted) flow of the scope with its phases, on its own.
/// PostgreSQL: one statement and no transaction — the function `flowgate_api.read_flow`
/// runs as `flowgate_app` (row-level security applies), sets the tenant, then reads the
/// flow's row and, if there is one, its phases (migrations 0005, 0009, 0012). SQLite:
/// [`load_sql`] in a read transaction.
pub(crate) async fn read_flow(
    db: &Db,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<FlowView>, sqlx::Error> {
    match db {
        Db::Postgres(_) => {
            let rows = sql::fetch_all(
                db,
                "SELECT * FROM flowgate_api.read_flow($1, $2, $3)",
                &[scope.account.into(), id.into(), scope.engagement.into()],
            )
            .await?;
            flow_from_rows(&rows)
        }
        Db::Sqlite(_) => {
            let mut tx = Tx::begin(db, false).await?;
            let flow = load_flow(&mut tx, scope, id, false).await;
            tx.end_read();
            flow
        }
    }
}

/// A flow to create.
pub(crate) struct NewFlow {
    pub(crate) spec: &'static FlowTypeSpec,
    pub(crate) flow_name: Option<String>,
    pub(crate) configuration: Value,
    pub(crate) initial_data: Value,
    pub(crate) metadata: Value,
    /// `Idempotency-Key` and the hash of the request it came with.
    pub(crate) idempotency: Option<(String, String)>,
}

pub(crate) enum Created {
    /// The flow as stored.
    New(Box<FlowView>),
    /// Same key, same request: the flow created the first time, as it is now.
    Replayed(Box<FlowView>),
}

pub(crate) enum CreateError {
    Store(StoreError),
    /// Another request with the same key committed first: retry to replay it.
    KeyRace,
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => CreateError::KeyRace,
            _ => CreateError::Store(e.into()),
        }
    }
}

impl From<StoreError> for CreateError {
    fn from(e: StoreError) -> Self {
        CreateError::Store(e)
    }
}

/// PostgreSQL's create: one statement (`migrations/postgres/0006_create_flow_function.sql`)
/// that sets the tenant, inserts the flow, its phases and its `created` event, and answers
/// with the rows as stored.
const CREATE_FLOW_PG: &str =
    "SELECT * FROM flowgate_api.create_flow($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// Inserts the flow, one row per phase and its `created` event, or replays an idempotent
/// request. On PostgreSQL a create without `Idempotency-Key` is one statement with no
/// transaction; with a key, the lookup and the insert share one transaction.
pub(crate) async fn create_flow(
    db: &Db,
    scope: &Scope,
    new: &NewFlow,
) -> Result<Created, CreateError> {
    let id = Uuid::now_v7();
    let now = sql::now();
    if db.is_postgres() && new.idempotency.is_none() {
        sql::execute(db, CREATE_FLOW_PG, &create_params_pg(id, now, scope, new)).await?;
        return Ok(Created::New(Box::new(as_created(id, now, scope, new))));
    }
    let mut tx = begin_scoped(db, *scope, true, Role::App).await?;
    if let Some((key, hash)) = &new.idempotency {
        let existing = tx
            .fetch_optional(
                "SELECT id, request_hash FROM flows WHERE client_account_id = $1 AND idempotency_key = $2",
                &[scope.account.into(), key.clone().into()],
            )
            .await?;
        if let Some(row) = existing {
            if row.opt_text("request_hash")?.as_deref() != Some(hash.as_str()) {
                return Err(StoreError::IdempotencyKeyReused.into());
            }
            let flow = load_flow(&mut tx, scope, row.uuid("id")?, true)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            tx.end_read();
            return Ok(Created::Replayed(Box::new(flow)));
        }
    }
    if tx.is_postgres() {
        tx.execute(CREATE_FLOW_PG, &create_params_pg(id, now, scope, new))
            .await?;
    } else {
        insert_steps(&mut tx, id, now, scope, new).await?;
    }
    tx.commit().await?;
    Ok(Created::New(Box::new(as_created(id, now, scope, new))))
}

/// The flow a create has just stored, from the values the create stored: `id` and `now`
/// as chosen, the status, counters and phases as every new flow has them. Reading it back
/// would cost PostgreSQL more than the create's inserts themselves (see migration 0008);
/// `tests/api.rs::create_get_and_events` holds it equal to the flow a read returns.
fn as_created(id: Uuid, now: DateTime<Utc>, scope: &Scope, new: &NewFlow) -> FlowView {
    let phases: Vec<PhaseView> = new
        .spec
        .phases
        .iter()
        .map(|p| PhaseView {
            name: p.name.to_string(),
            status: "pending".to_string(),
            needs_input: p.needs_input,
            attempts: 0,
            started_at: None,
            completed_at: None,
            duration_ms: None,
            output: None,
            error: None,
        })
        .collect();
    let status = FlowStatus::Initialized.as_str();
    FlowView {
        flow_id: id,
        flow_type: new.spec.flow_type.to_string(),
        flow_name: new.flow_name.clone(),
        status: status.to_string(),
        current_phase: current_phase(Some(new.spec), status, 0),
        progress_percentage: progress(0, phases.len() as i64),
        client_account_id: scope.account,
        engagement_id: scope.engagement,
        configuration: new.configuration.clone(),
        metadata: new.metadata.clone(),
        phases,
        error: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        initial_data: new.initial_data.clone(),
    }
}

/// The flow row's values, `$1..$11` of both backends' inserts.
fn flow_params(id: Uuid, now: DateTime<Utc>, scope: &Scope, new: &NewFlow) -> Vec<P> {
    let (key, hash) = new.idempotency.clone().unzip();
    vec![
        id.into(),
        scope.account.into(),
        scope.engagement.into(),
        new.spec.flow_type.into(),
        new.flow_name.clone().into(),
        new.configuration.clone().into(),
        new.initial_data.clone().into(),
        new.metadata.clone().into(),
        key.into(),
        hash.into(),
        now.into(),
    ]
}

/// The function's parameters: the flow row's, then its phases (`$12`).
fn create_params_pg(id: Uuid, now: DateTime<Utc>, scope: &Scope, new: &NewFlow) -> Vec<P> {
    let phases: Vec<Value> = new
        .spec
        .phases
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "needs_input": p.needs_input}))
        .collect();
    let mut params = flow_params(id, now, scope, new);
    params.push(Value::Array(phases).into());
    params
}

/// SQLite's create: the same rows as PostgreSQL's function, statement by statement.
async fn insert_steps(
    tx: &mut Tx,
    id: Uuid,
    now: DateTime<Utc>,
    scope: &Scope,
    new: &NewFlow,
) -> Result<(), CreateError> {
    // $1..$11: the flow; then three per phase row.
    let mut params = flow_params(id, now, scope, new);
    tx.execute(
        "INSERT INTO flows (id, client_account_id, engagement_id, flow_type, \
         flow_name, status, current_phase_index, configuration, initial_data, metadata, \
         idempotency_key, request_hash, runnable_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'initialized', 0, $6, $7, $8, $9, $10, $11, $11, $11)",
        &params,
    )
    .await?;
    let mut phase_rows = Vec::with_capacity(new.spec.phases.len());
    for (i, phase) in new.spec.phases.iter().enumerate() {
        params.extend([
            P::Int(i as i64),
            phase.name.into(),
            phase.needs_input.into(),
        ]);
        let n = params.len();
        phase_rows.push(format!(
            "($1, $2, ${}, ${}, 'pending', ${})",
            n - 2,
            n - 1,
            n
        ));
    }
    if !phase_rows.is_empty() {
        let insert_phases = format!(
            "INSERT INTO flow_phases (flow_id, client_account_id, idx, name, status, needs_input) VALUES {}",
            phase_rows.join(", ")
        );
        tx.execute(&insert_phases, &params).await?;
    }
    append_event(
        tx,
        id,
        scope.account,
        now,
        NewEvent::new("created").status(None, FlowStatus::Initialized),
    )
    .await?;
    Ok(())
}

/// Filters of a list.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub(crate) statuses: Option<Vec<FlowStatus>>,
    pub(crate) flow_type: Option<&'static str>,
    pub(crate) limit: i64,
    /// Keyset position: strictly older than (created_at, id).
    pub(crate) after: Option<(DateTime<Utc>, Uuid)>,
}

/// Lists flows newest first. `scope = None` lists every tenant (the `list-ignores-tenant`
/// defect). Returns up to `limit` items and whether there are more.
pub(crate) async fn list_flows(
    tx: &mut Tx,
    scope: Option<&Scope>,
    q: &ListQuery,
) -> Result<(Vec<FlowSummary>, bool), sqlx::Error> {
    let mut sql = String::from(
        "SELECT f.id, f.flow_type, f.flow_name, f.status, f.current_phase_index, f.client_account_id, \
         f.engagement_id, f.created_at, f.updated_at, f.completed_at, \
         (SELECT COUNT(*) FROM flow_phases p WHERE p.flow_id = f.id AND p.status = 'completed') \
         AS phases_completed FROM flows f WHERE f.status <> 'deleted'",
    );
    let mut params: Vec<P> = Vec::new();
    let next = |params: &mut Vec<P>, p: P| {
        params.push(p);
        format!("${}", params.len())
    };
    if let Some(scope) = scope {
        let a = next(&mut params, scope.account.into());
        let e = next(&mut params, scope.engagement.into());
        sql.push_str(&format!(
            " AND f.client_account_id = {a} AND f.engagement_id = {e}"
        ));
    }
    if let Some(statuses) = &q.statuses {
        let list: Vec<String> = statuses
            .iter()
            .map(|s| next(&mut params, s.as_str().into()))
            .collect();
        sql.push_str(&format!(" AND f.status IN ({})", list.join(", ")));
    }
    if let Some(t) = q.flow_type {
        let p = next(&mut params, t.into());
        sql.push_str(&format!(" AND f.flow_type = {p}"));
    }
    if let Some((at, id)) = q.after {
        let a = next(&mut params, at.into());
        let i = next(&mut params, id.into());
        sql.push_str(&format!(
            " AND (f.created_at < {a} OR (f.created_at = {a} AND f.id < {i}))"
        ));
    }
    let l = next(&mut params, (q.limit + 1).into());
    sql.push_str(&format!(" ORDER BY f.created_at DESC, f.id DESC LIMIT {l}"));
    let rows = tx.fetch_all(&sql, &params).await?;
    let more = rows.len() as i64 > q.limit;
    let items = rows
        .iter()
        .take(usize::try_from(q.limit).unwrap_or(0))
        .map(|r| {
            let flow_type = r.text("flow_type")?;
            let status = r.text("status")?;
            let spec = catalogue::flow_type(&flow_type);
            let total = spec.map_or(0, |s| s.phases.len() as i64);
            let completed = r.int("phases_completed")?;
            Ok(FlowSummary {
                flow_id: r.uuid("id")?,
                current_phase: current_phase(spec, &status, r.int("current_phase_index")?),
                flow_type,
                flow_name: r.opt_text("flow_name")?,
                status,
                phases_completed: completed,
                phases_total: total,
                progress_percentage: progress(completed, total),
                client_account_id: r.uuid("client_account_id")?,
                engagement_id: r.uuid("engagement_id")?,
                created_at: r.ts("created_at")?,
                updated_at: r.ts("updated_at")?,
                completed_at: r.opt_ts("completed_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((items, more))
}
