//! `/api/v1/flow-types` and `/api/v1/flows...`: the v1 API.

use crate::api::auth::Caller;
use crate::api::body::{self, Fields};
use crate::api::error::{ApiError, FieldError, Problem};
use crate::api::{AppState, FlowId};
use crate::domain::catalogue::{self, FlowTypeSpec, RetryPolicy};
use crate::domain::defects::Defect;
use crate::domain::{Action, EventView, FlowStatus, FlowSummary, FlowView, SIMULATE_KEY};
use crate::store::events;
use crate::store::flows::{self as store_flows, CreateError, Created, ListQuery, NewFlow};
use crate::store::transitions;
use crate::store::Role;
use crate::store::ONE_FLOW_IN_SCOPE;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// A phase of a flow type.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhaseTypeView {
    pub name: String,
    pub needs_input: bool,
}

/// The retry policy of a flow type's phases.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryView {
    pub max_attempts: u32,
    pub initial_delay_ms: u64,
    pub multiplier: u32,
    pub max_delay_ms: u64,
}

/// One flow type.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowTypeView {
    pub flow_type: String,
    pub phases: Vec<PhaseTypeView>,
    pub retry: RetryView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowTypeList {
    pub items: Vec<FlowTypeView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowList {
    pub items: Vec<FlowSummary>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventView>,
}

/// Body of `POST /api/v1/flows` (documentation; validated by hand to name each bad field).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateFlowRequest {
    /// One of the 8 flow types (`GET /api/v1/flow-types`).
    #[schema(example = "discovery")]
    pub flow_type: String,
    pub flow_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Value>,
    /// The flow's input data, e.g. `{"raw_data": [{"application_name": "crm"}]}`.
    #[schema(value_type = Option<Object>)]
    pub initial_data: Option<Value>,
}

/// Body of `POST /api/v1/flows/{id}/input`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct InputRequest {
    pub approved: bool,
    pub comment: Option<String>,
}

fn retry_view(r: RetryPolicy) -> RetryView {
    RetryView {
        max_attempts: r.max_attempts,
        initial_delay_ms: r.initial_delay_ms,
        multiplier: r.multiplier,
        max_delay_ms: r.max_delay_ms,
    }
}

/// The flow types, their ordered phases and retry settings.
#[utoipa::path(get, path = "/api/v1/flow-types", tag = "flows",
    responses((status = 200, body = FlowTypeList), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn flow_types(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<FlowTypeList> {
    let retry = retry_view(state.config.retry_policy.unwrap_or(RetryPolicy::ORIGINAL));
    Json(FlowTypeList {
        items: catalogue::FLOW_TYPES
            .iter()
            .map(|t| FlowTypeView {
                flow_type: t.flow_type.to_string(),
                phases: t
                    .phases
                    .iter()
                    .map(|p| PhaseTypeView {
                        name: p.name.to_string(),
                        needs_input: p.needs_input,
                    })
                    .collect(),
                retry: RetryView { ..retry },
            })
            .collect(),
    })
}

/// A validated create request, shared with the compatibility layer.
pub(crate) struct CreateInput {
    pub(crate) spec: &'static FlowTypeSpec,
    pub(crate) flow_name: Option<String>,
    pub(crate) configuration: Value,
    pub(crate) initial_data: Value,
    pub(crate) metadata: Value,
}

/// An `Idempotency-Key` and the request it came with, as [`body::canonical`] text: a
/// repeat with the same key replays the flow only for the same request.
pub(crate) struct Idempotency {
    pub(crate) key: String,
    pub(crate) canonical_body: String,
}

fn idempotency_key(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if state.defects.is_on(Defect::DuplicateCreates) {
        return Ok(None);
    }
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .map_err(|_| ApiError::invalid_header("Idempotency-Key", "not valid text"))?
        .trim();
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::invalid_header(
            "Idempotency-Key",
            "must have 1 to 200 characters",
        ));
    }
    Ok(Some(key.to_string()))
}

/// Refuses simulated faults unless the server allows them.
pub(crate) fn check_faults(state: &AppState, configuration: &Value) -> Result<(), ApiError> {
    let asks = configuration
        .get(SIMULATE_KEY)
        .is_some_and(|v| !v.is_null());
    if asks && !state.config.allow_simulated_faults {
        return Err(ApiError::simulated_faults_disabled());
    }
    Ok(())
}

/// Creates a flow (or replays an idempotent create); returns it and whether it was a replay.
pub(crate) async fn create(
    state: &AppState,
    caller: &Caller,
    input: CreateInput,
    idempotency: Option<Idempotency>,
) -> Result<(FlowView, bool), ApiError> {
    if let Some(rate) = &state.create_rate {
        rate.check(caller.account)?;
    }
    let scope = caller.scope(state).await?;
    let idempotency = idempotency.map(|i| {
        let hash = Sha256::digest(format!("{}\n{}", scope.engagement, i.canonical_body));
        (i.key, hex::encode(hash))
    });
    let new = NewFlow {
        spec: input.spec,
        flow_name: input.flow_name,
        configuration: input.configuration,
        initial_data: input.initial_data,
        metadata: input.metadata,
        idempotency,
    };
    for _ in 0..3 {
        match store_flows::create_flow(&state.db, &scope, &new).await {
            Ok(Created::New(flow)) => {
                state.flow_created();
                return Ok((*flow, false));
            }
            Ok(Created::Replayed(flow)) => return Ok((*flow, true)),
            Err(CreateError::KeyRace) => continue,
            Err(CreateError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::unavailable())
}

/// Creates a flow. Repeating a request with the same `Idempotency-Key` and body returns the
/// same flow.
#[utoipa::path(post, path = "/api/v1/flows", tag = "flows",
    request_body = CreateFlowRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes the create safe to repeat")),
    responses(
        (status = 201, body = FlowView, description = "created (or replayed: header Idempotent-Replayed)"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_flow(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let map = body::json_object(&headers, body, state.config.body_limit)?;
    let key = idempotency_key(&state, &headers)?;
    let mut f = Fields::new(&map);
    let flow_type = f.required_string("flow_type");
    let flow_name = f.optional_string("flow_name", 200);
    let configuration = f.optional_object("configuration");
    let initial_data = f.optional_object("initial_data");
    if state.defects.is_on(Defect::NonAsciiNameError)
        && flow_name
            .as_deref()
            .is_some_and(|n| n.len() > 24 && n.get(..24).is_none())
    {
        return Err(ApiError::internal());
    }
    f.deny_unknown(&["flow_type", "flow_name", "configuration", "initial_data"]);
    let spec = flow_type.and_then(catalogue::flow_type);
    if let (Some(name), None) = (flow_type, spec) {
        if f.errors.is_empty() {
            return Err(ApiError::unknown_flow_type(
                name,
                &catalogue::flow_type_names(),
            ));
        }
        f.errors.push(FieldError::new(
            "flow_type",
            format!("unknown flow type `{name}`"),
        ));
    }
    let stored_anyway = state.defects.is_on(Defect::RejectedCreateStored)
        && !f.errors.is_empty()
        && f.errors.iter().all(|e| e.message.contains("unknown"));
    if let (true, Some(spec)) = (stored_anyway, spec) {
        let input = CreateInput {
            spec,
            flow_name: flow_name.clone(),
            configuration: configuration.clone(),
            initial_data: initial_data.clone(),
            metadata: json!({}),
        };
        create(&state, &caller, input, None).await?;
    }
    f.finish()?;
    let spec = spec.ok_or_else(ApiError::internal)?;
    check_faults(&state, &configuration)?;
    let input = CreateInput {
        spec,
        flow_name,
        configuration,
        initial_data,
        metadata: json!({}),
    };
    let idempotency = key.map(|key| Idempotency {
        key,
        canonical_body: body::canonical(&Value::Object(map)),
    });
    let (flow, replayed) = create(&state, &caller, input, idempotency).await?;
    let mut res = (StatusCode::CREATED, Json(&flow)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/flows/{}", flow.flow_id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// One flow of the caller's tenant (404 for a foreign or missing one).
#[utoipa::path(get, path = "/api/v1/flows/{flow_id}", tag = "flows",
    params(("flow_id" = Uuid, Path)),
    responses((status = 200, body = FlowView), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_flow(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<Json<FlowView>, ApiError> {
    let mut flow = read_flow(&state, &caller, id).await?;
    if state.defects.is_on(Defect::TerminalReopens)
        && flow.status == "completed"
        && flow
            .completed_at
            .is_some_and(|t| chrono::Utc::now() - t > chrono::Duration::milliseconds(1500))
    {
        flow.status = "running".to_string();
    }
    Ok(Json(flow))
}

/// Reads one flow of the caller's tenant (see `store::flows::read_flow`); 404 when it is missing,
/// deleted or another tenant's. Both APIs' reads go through here.
pub(crate) async fn read_flow(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<FlowView, ApiError> {
    let scope = caller.scope(state).await?;
    store_flows::read_flow(&state.db, &scope, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// A page position: `<created_at in µs since the epoch>_<flow id>`. Every string of that
/// shape is a position (`CURSOR_PATTERN` documents it), so a client can never send a
/// well-formed cursor that is refused.
fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{id}", at.timestamp_micros())
}

pub(crate) const CURSOR_PATTERN: &str =
    "^[0-9]{1,16}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

fn decode_cursor(raw: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = raw.split_once('_')?;
    if micros.is_empty() || micros.len() > 16 || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    if id.len() != 36 {
        return None;
    }
    Some((at, Uuid::parse_str(id).ok()?))
}

fn parse_list_query(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery {
        limit: 50,
        ..ListQuery::default()
    };
    let mut errors = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "status" => {
                let mut list = Vec::new();
                for s in v.split(',').map(str::trim) {
                    match FlowStatus::parse(s).filter(|x| x.is_visible()) {
                        Some(x) => list.push(x),
                        None => errors.push(FieldError::query(
                            "status",
                            format!(
                                "unknown status `{s}`; expected one of: {}",
                                FlowStatus::visible_names().join(", ")
                            ),
                        )),
                    }
                }
                q.statuses = Some(list);
            }
            "flow_type" => match catalogue::flow_type(v) {
                Some(t) => q.flow_type = Some(t.flow_type),
                None => errors.push(FieldError::query(
                    "flow_type",
                    format!(
                        "unknown flow type `{v}`; expected one of: {}",
                        catalogue::flow_type_names().join(", ")
                    ),
                )),
            },
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => q.limit = n,
                _ => errors.push(FieldError::query(
                    "limit",
                    "expected an integer from 1 to 100",
                )),
            },
            "cursor" => match decode_cursor(v) {
                Some(c) => q.after = Some(c),
                None => errors.push(FieldError::query(
                    "cursor",
                    "not a cursor returned by this API",
                )),
            },
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(q)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The caller's flows, newest first, with keyset pagination.
#[utoipa::path(get, path = "/api/v1/flows", tag = "flows",
    params(
        ("status" = Option<String>, Query, description = "one status or a comma-separated list"),
        ("flow_type" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1..=100, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = FlowList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn list_flows(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<FlowList>, ApiError> {
    let Query(pairs) = query.map_err(|e| {
        ApiError::validation(vec![FieldError {
            parameter: None,
            ..FieldError::query("(query)", e.body_text())
        }])
    })?;
    let q = parse_list_query(&pairs)?;
    let leaky = state.defects.is_on(Defect::ListIgnoresTenant);
    let leaky_paging = state.defects.is_on(Defect::PagingIgnoresTenant);
    let role = if leaky || leaky_paging {
        Role::Engine
    } else {
        Role::App
    };
    let (mut tx, scope) = caller.begin(&state, false, role).await?;
    let (mut items, more) =
        store_flows::list_flows(&mut tx, (!leaky && !leaky_paging).then_some(&scope), &q).await?;
    tx.end_read();
    if leaky_paging && !leaky {
        items.retain(|f| {
            f.client_account_id == scope.account && f.engagement_id == scope.engagement
        });
    }
    if state.defects.is_on(Defect::StaleListStatus) {
        for item in items.iter_mut().filter(|f| f.status == "completed") {
            item.status = "running".to_string();
        }
    }
    let next_cursor = if more {
        items.last().map(|f| encode_cursor(f.created_at, f.flow_id))
    } else {
        None
    };
    Ok(Json(FlowList { items, next_cursor }))
}

/// Applies an API transition and returns the flow afterwards (None once deleted).
pub(crate) async fn apply(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
) -> Result<Option<FlowView>, ApiError> {
    let lenient = state.defects.is_on(Defect::IllegalTransitions);
    let (mut tx, scope) = caller.begin(state, true, Role::App).await?;
    let done = transitions::transition(&mut tx, &scope, id, &action, lenient).await?;
    let flow = store_flows::load_flow(&mut tx, &scope, id, false).await?;
    tx.commit().await?;
    if done.runnable {
        state.engine.wake();
    }
    Ok(flow)
}

async fn apply_and_show(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
) -> Result<Json<FlowView>, ApiError> {
    apply(state, caller, id, action)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// Soft-deletes a flow: afterwards it is 404 and absent from lists.
#[utoipa::path(delete, path = "/api/v1/flows/{flow_id}", tag = "flows", params(("flow_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn delete_flow(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<StatusCode, ApiError> {
    if state.defects.is_on(Defect::DeleteLostWhilePaused)
        && read_flow(&state, &caller, id).await?.status == "paused"
    {
        return Ok(StatusCode::NO_CONTENT);
    }
    apply(&state, &caller, id, Action::Delete).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A lifecycle action with no body: `POST /api/v1/flows/{id}/<action>` answers the flow
/// after the transition, or 409 `illegal_transition` from the wrong status.
macro_rules! lifecycle_handler {
    ($(#[doc = $doc:literal])* $name:ident, $path:literal, $action:expr) => {
        $(#[doc = $doc])*
        #[utoipa::path(post, path = $path, tag = "flows", params(("flow_id" = Uuid, Path)),
            responses((status = 200, body = FlowView),
                (status = 400, body = Problem, content_type = "application/problem+json"),
                (status = 401, body = Problem, content_type = "application/problem+json"),
                (status = 404, body = Problem, content_type = "application/problem+json"),
                (status = 409, body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub(crate) async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            FlowId(id): FlowId,
        ) -> Result<Json<FlowView>, ApiError> {
            apply_and_show(&state, &caller, id, $action).await
        }
    };
}

lifecycle_handler!(
    /// Pauses a flow that is initialized, running or waiting for input.
    pause_flow, "/api/v1/flows/{flow_id}/pause", Action::Pause
);
lifecycle_handler!(
    /// Resumes a paused flow where it was.
    resume_flow, "/api/v1/flows/{flow_id}/resume", Action::Resume
);
lifecycle_handler!(
    /// Cancels a flow that has not finished.
    cancel_flow, "/api/v1/flows/{flow_id}/cancel", Action::Cancel
);
lifecycle_handler!(
    /// Runs a failed flow again from its failed phase.
    retry_flow, "/api/v1/flows/{flow_id}/retry", Action::Retry
);

/// Answers a phase that waits for a person: approve (the phase runs) or reject (the flow fails).
#[utoipa::path(post, path = "/api/v1/flows/{flow_id}/input", tag = "flows", params(("flow_id" = Uuid, Path)),
    request_body = InputRequest,
    responses((status = 200, body = FlowView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn input_flow(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<FlowView>, ApiError> {
    let map: Map<String, Value> = body::json_object(&headers, body, state.config.body_limit)?;
    let mut f = Fields::new(&map);
    let approved = f.required_bool("approved");
    let comment = f.optional_string("comment", 2000);
    f.deny_unknown(&["approved", "comment"]);
    f.finish()?;
    let approved = approved.ok_or_else(ApiError::internal)?;
    apply_and_show(&state, &caller, id, Action::Input { approved, comment }).await
}

/// The flow's history, oldest first.
#[utoipa::path(get, path = "/api/v1/flows/{flow_id}/events", tag = "flows", params(("flow_id" = Uuid, Path)),
    responses((status = 200, body = EventList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn flow_events(
    State(state): State<AppState>,
    caller: Caller,
    FlowId(id): FlowId,
) -> Result<Json<EventList>, ApiError> {
    let (mut tx, scope) = caller.begin(&state, false, Role::App).await?;
    let exists = tx
        .fetch_optional(
            &format!("SELECT id FROM flows WHERE {ONE_FLOW_IN_SCOPE} AND status <> 'deleted'"),
            &[id.into(), scope.account.into(), scope.engagement.into()],
        )
        .await?;
    if exists.is_none() {
        return Err(ApiError::not_found());
    }
    let items = events::events(&mut tx, &scope, id).await?;
    tx.end_read();
    Ok(Json(EventList { items }))
}
