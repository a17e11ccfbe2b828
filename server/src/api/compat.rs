//! The original system's discovery endpoints, over the same core, authenticated and
//! tenant-scoped like everything else, so the seed's eight checks run unchanged.

use crate::api::auth::Caller;
use crate::api::body::{self, Fields};
use crate::api::error::ApiError;
use crate::api::flows::{apply, check_faults, create, read_flow, CreateInput, Idempotency};
use crate::api::{AppState, FlowId};
use crate::domain::catalogue;
use crate::domain::defects::Defect;
use crate::domain::{Action, FlowStatus};
use crate::store::flows::{self as store_flows, ListQuery};
use crate::store::Role;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatDatabase {
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatHealth {
    pub status: String,
    pub version: String,
    pub database: CompatDatabase,
}

/// The original's health check: `database.status` is `healthy` when the database answers.
#[utoipa::path(get, path = "/api/v1/health", tag = "compatibility",
    responses((status = 200, body = CompatHealth), (status = 503, body = CompatHealth)))]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let up = state.db.ping().await;
    let word = if up { "healthy" } else { "unhealthy" };
    let body = CompatHealth {
        status: word.into(),
        version: crate::VERSION.into(),
        database: CompatDatabase {
            status: word.into(),
        },
    };
    let code = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Body of the original's initialize call (documentation; validated by hand).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CompatInitializeRequest {
    pub flow_name: Option<String>,
    /// Application/server records, e.g. `{"application_name": "crm", "dependencies": []}`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub raw_data: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatInitialized {
    pub success: bool,
    pub flow_id: Uuid,
    pub status: String,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

/// Starts a discovery flow from the original's body: `raw_data` records become the flow's
/// `initial_data.raw_data`. Extra members are ignored, as the original did.
#[utoipa::path(post, path = "/api/v1/unified-discovery/flow/initialize", tag = "compatibility",
    request_body = CompatInitializeRequest,
    responses((status = 200, body = CompatInitialized), (status = 422, body = crate::api::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn initialize(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CompatInitialized>, ApiError> {
    let map = body::json_object(&headers, body, state.config.body_limit)?;
    let mut f = Fields::new(&map);
    let flow_name = f.optional_string("flow_name", 200);
    let raw_data = f.optional_array_of_objects("raw_data");
    let configuration = f.optional_object("configuration");
    let metadata = f.optional_object("metadata");
    f.finish()?;
    check_faults(&state, &configuration)?;
    let spec = catalogue::flow_type("discovery").ok_or_else(ApiError::internal)?;
    let key = if state.defects.is_on(Defect::DuplicateCreates) {
        None
    } else {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.len() <= 200)
    };
    let input = CreateInput {
        spec,
        flow_name,
        configuration,
        initial_data: json!({ "raw_data": raw_data.unwrap_or_default() }),
        metadata,
    };
    let idempotency = key.map(|key| Idempotency {
        key,
        canonical_body: format!("compat:{}", body::canonical(&Value::Object(map))),
    });
    let (flow, _replayed) = create(&state, &caller, input, idempotency).await?;
    Ok(Json(CompatInitialized {
        success: true,
        flow_id: flow.flow_id,
        status: flow.status,
        message: "Discovery flow initialized".into(),
        error: None,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatPhases {
    pub total: i64,
    pub completed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatStatus {
    pub flow_id: Uuid,
    pub flow_type: String,
    pub flow_name: Option<String>,
    pub status: String,
    pub current_phase: Option<String>,
    pub progress_percentage: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub configuration: Value,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub phases: CompatPhases,
    /// Each finished phase's output by phase name, plus the flow's input data.
    #[schema(value_type = Object)]
    pub state_data: Value,
}

/// The original's status view of a flow.
#[utoipa::path(get, path = "/api/v1/unified-discovery/flow/{flow_id}/status", tag = "compatibility",
    params(("flow_id" = Uuid, Path)),
    responses((status = 200, body = CompatStatus), (status = 404, body = crate::api::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn status(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<Json<CompatStatus>, ApiError> {
    let flow = read_flow(&state, &caller, id).await?;
    let completed = flow
        .phases
        .iter()
        .filter(|p| p.status == "completed") // a phase status
        .count() as i64;
    let mut outputs = Map::new();
    for p in &flow.phases {
        if let Some(o) = &p.output {
            outputs.insert(p.name.clone(), o.clone());
        }
    }
    Ok(Json(CompatStatus {
        flow_id: flow.flow_id,
        flow_type: flow.flow_type,
        flow_name: flow.flow_name,
        status: flow.status,
        current_phase: flow.current_phase,
        progress_percentage: flow.progress_percentage,
        created_at: flow.created_at,
        updated_at: flow.updated_at,
        configuration: flow.configuration,
        metadata: flow.metadata,
        phases: CompatPhases {
            total: flow.phases.len() as i64,
            completed,
        },
        state_data: json!({ "initial_data": flow.initial_data, "phase_outputs": outputs }),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatActionResult {
    pub success: bool,
    pub flow_id: Uuid,
    pub status: String,
    pub message: String,
}

async fn compat_action(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    message: &str,
) -> Result<Json<CompatActionResult>, ApiError> {
    let flow = apply(state, caller, id, action).await?;
    Ok(Json(CompatActionResult {
        success: true,
        flow_id: id,
        status: flow.map_or_else(|| FlowStatus::Deleted.as_str().to_string(), |f| f.status),
        message: message.to_string(),
    }))
}

/// Pauses a flow (the original's route).
#[utoipa::path(post, path = "/api/v1/unified-discovery/flow/{flow_id}/pause", tag = "compatibility",
    params(("flow_id" = Uuid, Path)),
    responses((status = 200, body = CompatActionResult), (status = 409, body = crate::api::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<Json<CompatActionResult>, ApiError> {
    compat_action(&state, &caller, id, Action::Pause, "Flow paused").await
}

/// Resumes a flow (the original's route).
#[utoipa::path(post, path = "/api/v1/unified-discovery/flow/{flow_id}/resume", tag = "compatibility",
    params(("flow_id" = Uuid, Path)),
    responses((status = 200, body = CompatActionResult), (status = 409, body = crate::api::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<Json<CompatActionResult>, ApiError> {
    compat_action(&state, &caller, id, Action::Resume, "Flow resumed").await
}

/// Soft-deletes a flow (the original's route).
#[utoipa::path(delete, path = "/api/v1/unified-discovery/flow/{flow_id}", tag = "compatibility",
    params(("flow_id" = Uuid, Path)),
    responses((status = 200, body = CompatActionResult), (status = 404, body = crate::api::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<Json<CompatActionResult>, ApiError> {
    compat_action(&state, &caller, id, Action::Delete, "Flow deleted").await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatActiveFlow {
    pub flow_id: Uuid,
    pub status: String,
    #[serde(rename = "type")]
    pub flow_type: String,
    pub flow_name: Option<String>,
    pub current_phase: Option<String>,
    pub phases_completed: i64,
    pub progress_percentage: f64,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The caller's discovery flows that have not finished (at most 1000, newest first).
#[utoipa::path(get, path = "/api/v1/discovery/flows/active", tag = "compatibility",
    responses((status = 200, body = Vec<CompatActiveFlow>)),
    security(("bearer" = [])))]
pub(crate) async fn active(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CompatActiveFlow>>, ApiError> {
    let leaky = state.defects.is_on(Defect::ListIgnoresTenant);
    let role = if leaky { Role::Engine } else { Role::App };
    let (mut tx, scope) = caller.begin(&state, false, role).await?;
    let q = ListQuery {
        statuses: Some(FlowStatus::ACTIVE.to_vec()),
        flow_type: Some("discovery"),
        limit: 1000,
        after: None,
    };
    let (items, _more) = store_flows::list_flows(&mut tx, (!leaky).then_some(&scope), &q).await?;
    tx.end_read();
    Ok(Json(
        items
            .into_iter()
            .map(|f| CompatActiveFlow {
                flow_id: f.flow_id,
                status: f.status,
                flow_type: f.flow_type,
                flow_name: f.flow_name,
                current_phase: f.current_phase,
                phases_completed: f.phases_completed,
                progress_percentage: f.progress_percentage,
                client_account_id: f.client_account_id,
                engagement_id: f.engagement_id,
                created_at: f.created_at,
                updated_at: f.updated_at,
            })
            .collect(),
    ))
}
