//! Flow storage for the API: creation, reads, lists and the API's state transitions.
//! Every function runs inside a tenant-scoped transaction ([`begin_scoped`]) and filters by
//! client account and engagement; on PostgreSQL row-level security enforces the same.

use crate::api::error::ApiError;
use crate::db::Db;
use crate::flows::catalogue::{self, FlowTypeSpec};
use crate::sql::{self, Row, Tx, P};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// Who is asking: the client account (from the API key) and the engagement (from
/// `X-Engagement-ID` inside that account, else the account's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) account: Uuid,
    pub(crate) engagement: Uuid,
}

/// Which database role a scoped transaction runs as on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `flowgate_app`: row-level security limits every query to the tenant.
    App,
    /// `flowgate_engine`: sees every tenant; only the `list-ignores-tenant` defect uses it
    /// for API requests.
    Engine,
}

/// Opens a transaction for `account`, sets the tenant for row-level security, and resolves
/// the engagement (404 `engagement_not_found` when it is not the account's).
pub(crate) async fn begin_scoped(
    db: &Db,
    account: Uuid,
    engagement: Option<Uuid>,
    writes: bool,
    role: Role,
) -> Result<(Tx, Scope), ApiError> {
    let mut tx = Tx::begin(db, writes).await?;
    if tx.is_postgres() {
        let role_name = match role {
            Role::App => "flowgate_app",
            Role::Engine => "flowgate_engine",
        };
        tx.execute(
            "SELECT set_config('role', $1, true), set_config('flowgate.client_account_id', $2, true)",
            &[role_name.into(), account.to_string().into()],
        )
        .await?;
    }
    let row = match engagement {
        Some(e) => {
            tx.fetch_optional(
                "SELECT id FROM engagements WHERE id = $1 AND client_account_id = $2",
                &[e.into(), account.into()],
            )
            .await?
        }
        None => {
            tx.fetch_optional(
                "SELECT id FROM engagements WHERE client_account_id = $1 AND is_default \
                 ORDER BY created_at LIMIT 1",
                &[account.into()],
            )
            .await?
        }
    };
    let engagement = match row {
        Some(r) => r.uuid("id")?,
        None => return Err(ApiError::engagement_not_found()),
    };
    Ok((
        tx,
        Scope {
            account,
            engagement,
        },
    ))
}

/// One phase of a flow, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhaseView {
    pub name: String,
    /// pending | running | waiting_for_input | completed | failed | skipped
    pub status: String,
    pub needs_input: bool,
    pub attempts: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// A flow, as `GET /api/v1/flows/{id}` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowView {
    pub flow_id: Uuid,
    pub flow_type: String,
    pub flow_name: Option<String>,
    /// initialized | running | waiting_for_input | paused | completed | failed | cancelled
    pub status: String,
    /// Name of the current phase; null once completed.
    pub current_phase: Option<String>,
    /// Completed phases / total phases × 100, one decimal.
    pub progress_percentage: f64,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    #[schema(value_type = Object)]
    pub configuration: Value,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub phases: Vec<PhaseView>,
    /// `{phase, code, message}` when failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(crate) initial_data: Value,
}

/// A flow in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowSummary {
    pub flow_id: Uuid,
    pub flow_type: String,
    pub flow_name: Option<String>,
    pub status: String,
    pub current_phase: Option<String>,
    pub phases_completed: i64,
    pub phases_total: i64,
    pub progress_percentage: f64,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One entry of a flow's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub phase: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

pub(crate) fn progress(completed: i64, total: i64) -> f64 {
    if total <= 0 {
        return 0.0;
    }
    ((completed as f64) * 1000.0 / (total as f64)).round() / 10.0
}

fn current_phase(spec: Option<&FlowTypeSpec>, status: &str, index: i64) -> Option<String> {
    if status == "completed" {
        return None;
    }
    let spec = spec?;
    usize::try_from(index)
        .ok()
        .and_then(|i| spec.phases.get(i))
        .map(|p| p.name.to_string())
}

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

/// Reads one flow of the scope (deleted flows only when `include_deleted`).
pub(crate) async fn load_flow(
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
    include_deleted: bool,
) -> Result<Option<FlowView>, sqlx::Error> {
    let sql = format!(
        "SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1 AND client_account_id = $2 \
         AND engagement_id = $3{}",
        if include_deleted {
            ""
        } else {
            " AND status <> 'deleted'"
        }
    );
    let Some(row) = tx
        .fetch_optional(
            &sql,
            &[id.into(), scope.account.into(), scope.engagement.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let phase_rows = tx
        .fetch_all(
            "SELECT name, status, needs_input, attempts, started_at, completed_at, duration_ms, \
             output, error FROM flow_phases WHERE flow_id = $1 AND client_account_id = $2 ORDER BY idx",
            &[id.into(), scope.account.into()],
        )
        .await?;
    let phases = phase_rows
        .iter()
        .map(|p| {
            Ok(PhaseView {
                name: p.text("name")?,
                status: p.text("status")?,
                needs_input: p.bool("needs_input")?,
                attempts: p.int("attempts")?,
                started_at: p.opt_ts("started_at")?,
                completed_at: p.opt_ts("completed_at")?,
                duration_ms: p.opt_int("duration_ms")?,
                output: p.opt_json("output")?,
                error: p.opt_text("error")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    flow_from_row(&row, phases).map(Some)
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
    New(Uuid),
    /// Same key, same request: the flow created the first time.
    Replayed(Uuid),
}

pub(crate) enum CreateError {
    Api(ApiError),
    /// Another request with the same key committed first: retry to replay it.
    KeyRace,
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => CreateError::KeyRace,
            _ => CreateError::Api(e.into()),
        }
    }
}

/// Inserts the flow, one row per phase and its `created` event, or replays an idempotent
/// request.
pub(crate) async fn create_flow(
    tx: &mut Tx,
    scope: &Scope,
    new: &NewFlow,
) -> Result<Created, CreateError> {
    if let Some((key, hash)) = &new.idempotency {
        let existing = tx
            .fetch_optional(
                "SELECT id, request_hash FROM flows WHERE client_account_id = $1 AND idempotency_key = $2",
                &[scope.account.into(), key.clone().into()],
            )
            .await?;
        if let Some(row) = existing {
            let stored = row.opt_text("request_hash")?;
            return if stored.as_deref() == Some(hash.as_str()) {
                Ok(Created::Replayed(row.uuid("id")?))
            } else {
                Err(CreateError::Api(ApiError::idempotency_key_reused()))
            };
        }
    }
    let id = Uuid::now_v7();
    let now = sql::now();
    let (key, hash) = match &new.idempotency {
        Some((k, h)) => (Some(k.clone()), Some(h.clone())),
        None => (None, None),
    };
    tx.execute(
        "INSERT INTO flows (id, client_account_id, engagement_id, flow_type, flow_name, status, \
         current_phase_index, configuration, initial_data, metadata, idempotency_key, request_hash, \
         runnable_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'initialized', 0, $6, $7, $8, $9, $10, $11, $11, $11)",
        &[
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
        ],
    )
    .await?;
    for (i, phase) in new.spec.phases.iter().enumerate() {
        tx.execute(
            "INSERT INTO flow_phases (flow_id, client_account_id, idx, name, status, needs_input) \
             VALUES ($1, $2, $3, $4, 'pending', $5)",
            &[
                id.into(),
                scope.account.into(),
                (i as i64).into(),
                phase.name.into(),
                phase.needs_input.into(),
            ],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO flow_events (flow_id, client_account_id, seq, at, kind, to_status) \
         VALUES ($1, $2, 1, $3, 'created', 'initialized')",
        &[id.into(), scope.account.into(), now.into()],
    )
    .await?;
    Ok(Created::New(id))
}

/// Filters of a list.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub(crate) statuses: Option<Vec<&'static str>>,
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
            .map(|s| next(&mut params, (*s).into()))
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

/// A flow's history, oldest first.
pub(crate) async fn events(
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
) -> Result<Vec<EventView>, sqlx::Error> {
    let rows = tx
        .fetch_all(
            "SELECT seq, at, kind, from_status, to_status, phase, detail FROM flow_events \
             WHERE flow_id = $1 AND client_account_id = $2 ORDER BY seq",
            &[id.into(), scope.account.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(EventView {
                seq: r.int("seq")?,
                at: r.ts("at")?,
                kind: r.text("kind")?,
                from_status: r.opt_text("from_status")?,
                to_status: r.opt_text("to_status")?,
                phase: r.opt_text("phase")?,
                detail: r.opt_json("detail")?,
            })
        })
        .collect()
}

/// A state change the API can ask for.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Pause,
    Resume,
    Cancel,
    Input {
        approved: bool,
        comment: Option<String>,
    },
    Retry,
    Delete,
}

impl Action {
    pub(crate) fn verb(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Input { .. } => "give input to",
            Action::Retry => "retry",
            Action::Delete => "delete",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Input { .. } => "input",
            Action::Retry => "retry",
            Action::Delete => "delete",
        }
    }
}

/// What a transition did.
pub(crate) struct Transitioned {
    /// The flow can now be claimed by a worker: wake one.
    pub(crate) runnable: bool,
}

const NON_TERMINAL: [&str; 4] = ["initialized", "running", "waiting_for_input", "paused"];

/// Applies `action` to a flow of the scope as one compare-and-set on its status, with its
/// event, in the caller's transaction. `lenient` (the `illegal-transitions` defect) accepts
/// pause/resume/cancel from any status.
pub(crate) async fn transition(
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
    action: &Action,
    lenient: bool,
) -> Result<Transitioned, ApiError> {
    // A concurrent change between the read and the guarded update makes the update miss;
    // re-read and decide again (bounded: each miss means someone else made progress).
    for _ in 0..8 {
        let row = tx
            .fetch_optional(
                "SELECT status, paused_from, current_phase_index, flow_type FROM flows \
                 WHERE id = $1 AND client_account_id = $2 AND engagement_id = $3 AND status <> 'deleted'",
                &[id.into(), scope.account.into(), scope.engagement.into()],
            )
            .await?;
        let Some(row) = row else {
            return Err(ApiError::not_found());
        };
        let current = row.text("status")?;
        let paused_from = row.opt_text("paused_from")?;
        let phase_index = row.int("current_phase_index")?;
        let phase_name = catalogue::flow_type(&row.text("flow_type")?)
            .and_then(|s| {
                usize::try_from(phase_index)
                    .ok()
                    .and_then(|i| s.phases.get(i))
            })
            .map(|p| p.name.to_string());
        let cur = current.as_str();
        let lenient_ok =
            lenient && matches!(action, Action::Pause | Action::Resume | Action::Cancel);
        let allowed = lenient_ok
            || match action {
                Action::Pause => matches!(cur, "initialized" | "running" | "waiting_for_input"),
                Action::Resume => cur == "paused",
                Action::Cancel => NON_TERMINAL.contains(&cur),
                Action::Input { .. } => cur == "waiting_for_input",
                Action::Retry => cur == "failed",
                Action::Delete => true,
            };
        if !allowed {
            return Err(ApiError::illegal_transition(action.verb(), cur));
        }
        let now = sql::now();
        let mut detail = json!({ "action": action.name() });
        // $1 id, $2 account, $3 observed status, $4 now, $5 new status, $6 extra value.
        let mut extra: Option<P> = None;
        let (new_status, set, runnable): (String, &str, bool) = match action {
            Action::Pause => {
                extra = Some(P::Text(Some(current.clone())));
                (
                    "paused".into(),
                    "paused_from = $6, runnable_at = NULL, lease_owner = NULL, lease_expires_at = NULL, \
                     fencing_token = fencing_token + 1",
                    false,
                )
            }
            Action::Resume => {
                let back = match paused_from.as_deref() {
                    Some(s @ ("initialized" | "running" | "waiting_for_input")) => s.to_string(),
                    _ => "running".to_string(),
                };
                if back == "waiting_for_input" {
                    (back, "paused_from = NULL, runnable_at = NULL", false)
                } else {
                    (back, "paused_from = NULL, runnable_at = $4, completed_at = NULL", true)
                }
            }
            Action::Cancel => (
                "cancelled".into(),
                "paused_from = NULL, runnable_at = NULL, lease_owner = NULL, lease_expires_at = NULL, \
                 fencing_token = fencing_token + 1",
                false,
            ),
            Action::Delete => (
                "deleted".into(),
                "deleted_at = $4, runnable_at = NULL, lease_owner = NULL, lease_expires_at = NULL, \
                 fencing_token = fencing_token + 1",
                false,
            ),
            Action::Retry => (
                "running".into(),
                "error = NULL, runnable_at = $4, completed_at = NULL",
                true,
            ),
            Action::Input { approved, comment } => {
                detail["approved"] = json!(approved);
                detail["comment"] = json!(comment);
                if *approved {
                    ("running".into(), "runnable_at = $4", true)
                } else {
                    let message = comment.clone().unwrap_or_else(|| "rejected".to_string());
                    extra = Some(P::Json(Some(json!({
                        "phase": phase_name,
                        "code": "input_rejected",
                        "message": message,
                    }))));
                    ("failed".into(), "error = $6, runnable_at = NULL", false)
                }
            }
        };
        let mut params: Vec<P> = vec![
            id.into(),
            scope.account.into(),
            current.clone().into(),
            now.into(),
            new_status.clone().into(),
        ];
        params.extend(extra);
        let sql = format!(
            "UPDATE flows SET status = $5, {set}, version = version + 1, updated_at = $4 \
             WHERE id = $1 AND client_account_id = $2 AND status = $3",
        );
        if tx.execute(&sql, &params).await? == 0 {
            continue;
        }
        if let Action::Input { approved, comment } = action {
            let input = json!({ "approved": approved, "comment": comment });
            if *approved {
                tx.execute(
                    "UPDATE flow_phases SET input = $3 WHERE flow_id = $1 AND client_account_id = $2 AND idx = $4",
                    &[id.into(), scope.account.into(), input.into(), phase_index.into()],
                )
                .await?;
            } else {
                let message = comment.clone().unwrap_or_else(|| "rejected".to_string());
                tx.execute(
                    "UPDATE flow_phases SET input = $3, status = 'failed', error = $5, completed_at = $6 \
                     WHERE flow_id = $1 AND client_account_id = $2 AND idx = $4",
                    &[
                        id.into(),
                        scope.account.into(),
                        input.into(),
                        phase_index.into(),
                        message.into(),
                        now.into(),
                    ],
                )
                .await?;
            }
        }
        if let Action::Retry = action {
            tx.execute(
                "UPDATE flow_phases SET status = 'pending', attempts = 0, error = NULL, input = NULL, \
                 started_at = NULL, completed_at = NULL, duration_ms = NULL \
                 WHERE flow_id = $1 AND client_account_id = $2 AND status = 'failed'",
                &[id.into(), scope.account.into()],
            )
            .await?;
        }
        tx.execute(
            "INSERT INTO flow_events (flow_id, client_account_id, seq, at, kind, from_status, to_status, phase, detail) \
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM flow_events WHERE flow_id = $1), \
             $3, 'status_changed', $4, $5, $6, $7)",
            &[
                id.into(),
                scope.account.into(),
                now.into(),
                current.clone().into(),
                new_status.into(),
                phase_name.into(),
                detail.into(),
            ],
        )
        .await?;
        return Ok(Transitioned { runnable });
    }
    Err(ApiError::unavailable())
}
