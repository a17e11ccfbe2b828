//! The second implementation's HTTP layer (axum), from `server/API.md`.

use super::model::{
    phases_of, Flow, NewFlow, Store, Tenant, CATALOGUE, MAX_ATTEMPTS, RETRY_INITIAL_MS,
    RETRY_MAX_MS, STATUSES,
};
use super::problem::{stamp, Problem};
use axum::body::to_bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

type Shared = Arc<Mutex<Store>>;
type Answer = Result<Response, Problem>;

const BODY_LIMIT: usize = 1 << 20;

/// Starts the server on a free loopback port with the given keys; returns its address.
pub async fn spawn(keys: Vec<(String, Tenant)>) -> SocketAddr {
    let store = Arc::new(Mutex::new(Store {
        keys: keys.into_iter().collect(),
        ..Store::default()
    }));
    let engine = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if let Ok(mut s) = engine.lock() {
                s.tick();
            }
        }
    });
    let app = Router::new()
        .route("/health", get(health))
        .route("/api/v1/health", get(compat_health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/api/v1/flow-types", get(flow_types))
        .route("/api/v1/flows", get(list).post(create))
        .route("/api/v1/flows/{id}", get(read).delete(delete))
        .route("/api/v1/flows/{id}/events", get(events))
        .route("/api/v1/flows/{id}/{action}", post(action))
        .route(
            "/api/v1/unified-discovery/flow/initialize",
            post(compat_initialize),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}/status",
            get(compat_status),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}/{action}",
            post(compat_action),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}",
            axum::routing::delete(compat_delete),
        )
        .route("/api/v1/discovery/flows/active", get(active))
        .fallback(|| async {
            Problem::new(404, "route_not_found", "There is no such resource here.")
        })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                405,
                "method_not_allowed",
                "That method does not apply to this resource.",
            )
        })
        .layer(axum::middleware::from_fn(stamp))
        .with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn lock(store: &Shared) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// The caller's account and engagement.
fn caller(store: &Shared, headers: &HeaderMap) -> Result<(Uuid, Uuid), Problem> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(Problem::unauthorized)?;
    let tenant: Tenant = lock(store)
        .keys
        .get(key.trim())
        .cloned()
        .ok_or_else(Problem::unauthorized)?;
    let engagement = match headers.get("x-engagement-id") {
        None => tenant.engagements[0],
        Some(v) => {
            let id = v
                .to_str()
                .ok()
                .and_then(|s| Uuid::parse_str(s.trim()).ok())
                .ok_or_else(|| {
                    Problem::new(
                        400,
                        "invalid_header",
                        "The engagement header must hold a UUID.",
                    )
                    .at("header", "x-engagement-id", "not a UUID")
                })?;
            if !tenant.engagements.contains(&id) {
                return Err(Problem::new(
                    404,
                    "engagement_not_found",
                    "Your account has no such engagement.",
                ));
            }
            id
        }
    };
    Ok((tenant.account, engagement))
}

fn flow_id(raw: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(raw).map_err(|_| Problem::invalid_id())
}

/// The body as JSON: 415 without a JSON content type, 413 over the limit, 400 if not JSON.
async fn json_body(req: Request) -> Result<Value, Problem> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    if !is_json {
        return Err(Problem::new(
            415,
            "unsupported_media_type",
            "Send JSON, and say so in Content-Type.",
        )
        .at("header", "content-type", "expected application/json"));
    }
    let bytes = to_bytes(req.into_body(), BODY_LIMIT).await.map_err(|_| {
        Problem::new(
            413,
            "payload_too_large",
            "Bodies are limited to one mebibyte.",
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            400,
            "malformed_json",
            format!("Could not read the JSON (line {}).", e.line()),
        )
    })
}

/// Pointers to every string or member name holding U+0000.
fn nul_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains('\0') => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nul_pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                if k.contains('\0') {
                    out.push(here.clone());
                }
                nul_pointers(item, here, out);
            }
        }
        _ => {}
    }
}

fn field_error(pointer: &str, message: &str) -> Value {
    json!({"pointer": pointer, "field": pointer.trim_start_matches('/'), "message": message})
}

/// A member's accepted kinds (null always: the member is optional).
type Kind = (fn(&Value) -> bool, &'static str);
const TEXT: Kind = (Value::is_string, "expected a string");
const OBJECT: Kind = (Value::is_object, "expected an object");

fn expect_kinds(body: &Map<String, Value>, members: &[(&str, Kind)], errors: &mut Vec<Value>) {
    for (name, (ok, what)) in members {
        if let Some(v) = body.get(*name) {
            if !v.is_null() && !ok(v) {
                errors.push(field_error(&format!("/{name}"), what));
            }
        }
    }
}

/// 422 with every field error, U+0000 anywhere included; `Ok` when there is none.
fn refuse_if_any(body: &Value, mut errors: Vec<Value>) -> Result<(), Problem> {
    let mut nul = Vec::new();
    nul_pointers(body, String::new(), &mut nul);
    errors.extend(nul.iter().map(|p| field_error(p, "U+0000 is not accepted")));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, Value> =
                m.iter().map(|(k, v)| (k, canonical(v))).collect();
            json!(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

async fn health() -> Json<Value> {
    Json(
        json!({"status": "ok", "version": "2.0.0-second", "service": "second-orchestrator", "database": {"status": "healthy", "kind": "memory"}}),
    )
}

async fn compat_health() -> Json<Value> {
    Json(json!({"status": "healthy", "version": "2.0.0-second", "database": {"status": "healthy"}}))
}

async fn ready(State(store): State<Shared>) -> Json<Value> {
    let depth = lock(&store)
        .flows
        .values()
        .filter(|f| f.status == "initialized")
        .count();
    Json(
        json!({"status": "ready", "database": {"status": "healthy", "backend": "memory"}, "workers": {"configured": 1, "alive": 1, "healthy": true}, "queue_depth": depth}),
    )
}

async fn metrics(State(store): State<Shared>) -> impl IntoResponse {
    let s = lock(&store);
    let mut text =
        String::from("# HELP second_flows Flows held, by status.\n# TYPE second_flows gauge\n");
    for status in STATUSES {
        let n = s
            .flows
            .values()
            .filter(|f| !f.deleted && f.status == *status)
            .count();
        text.push_str(&format!("second_flows{{status=\"{status}\"}} {n}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn openapi() -> Json<Value> {
    let ok = json!({"200": {"description": "ok"}});
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "second orchestrator", "version": "2.0.0"},
        "paths": {
            "/api/v1/flows": {"get": {"responses": ok}, "post": {"responses": {"201": {"description": "created"}}}},
            "/api/v1/flows/{flow_id}": {"get": {"responses": ok}, "delete": {"responses": {"204": {"description": "deleted"}}}},
        }
    }))
}

async fn flow_types(State(store): State<Shared>, headers: HeaderMap) -> Answer {
    caller(&store, &headers)?;
    let items: Vec<Value> = CATALOGUE
        .iter()
        .map(|(t, phases)| {
            json!({
                "flow_type": t,
                "phases": phases.iter().map(|(n, i)| json!({"name": n, "needs_input": i})).collect::<Vec<_>>(),
                "retry": {"max_attempts": MAX_ATTEMPTS, "initial_delay_ms": RETRY_INITIAL_MS, "multiplier": 2, "max_delay_ms": RETRY_MAX_MS},
            })
        })
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

async fn create(State(store): State<Shared>, req: Request) -> Answer {
    let headers = req.headers().clone();
    let (account, engagement) = caller(&store, &headers)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().unwrap_or("").to_string();
            if k.is_empty() || k.len() > 200 {
                return Err(Problem::new(
                    400,
                    "invalid_header",
                    "Idempotency keys are 1 to 200 characters.",
                )
                .at("header", "idempotency-key", "1..=200 characters"));
            }
            Some(k)
        }
    };
    let body = json_body(req).await?;
    let Value::Object(fields) = &body else {
        return Err(Problem::validation(vec![field_error(
            "",
            "expected an object",
        )]));
    };
    let mut errors = Vec::new();
    for name in fields.keys() {
        if !["flow_type", "flow_name", "configuration", "initial_data"].contains(&name.as_str()) {
            errors.push(field_error(&format!("/{name}"), "unknown member"));
        }
    }
    match fields.get("flow_type") {
        None => errors.push(field_error("/flow_type", "required")),
        Some(v) if !v.is_string() => errors.push(field_error("/flow_type", "expected a string")),
        _ => {}
    }
    expect_kinds(
        fields,
        &[
            ("flow_name", TEXT),
            ("configuration", OBJECT),
            ("initial_data", OBJECT),
        ],
        &mut errors,
    );
    refuse_if_any(&body, errors)?;
    let requested = fields["flow_type"].as_str().unwrap_or_default();
    let Some(flow_type) = CATALOGUE.iter().map(|(t, _)| *t).find(|t| *t == requested) else {
        return Err(Problem::new(
            422,
            "unknown_flow_type",
            "We do not run flows of that type.",
        )
        .at("pointer", "/flow_type", "unknown type"));
    };
    let mut s = lock(&store);
    let fingerprint = canonical(&json!({"engagement": engagement, "body": body})).to_string();
    if let Some(k) = &key {
        if let Some((hash, id)) = s.idempotency.get(&(account, k.clone())).cloned() {
            if hash != fingerprint {
                return Err(Problem::new(
                    409,
                    "idempotency_key_reused",
                    "That key went with another request.",
                ));
            }
            if let Some(f) = s.flows.get(&id) {
                let mut res = (StatusCode::CREATED, Json(f.to_json())).into_response();
                res.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok(res);
            }
        }
    }
    let or_empty = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned().unwrap_or(json!({}));
    s.next_seq += 1;
    let flow = Flow::new(NewFlow {
        seq: s.next_seq,
        account,
        engagement,
        flow_type,
        name: fields
            .get("flow_name")
            .and_then(Value::as_str)
            .map(String::from),
        configuration: or_empty(fields.get("configuration")),
        metadata: json!({}),
        initial_data: or_empty(fields.get("initial_data")),
    });
    let id = flow.id;
    let out = flow.to_json();
    s.flows.insert(id, flow);
    if let Some(k) = key {
        s.idempotency.insert((account, k), (fingerprint, id));
    }
    let mut res = (StatusCode::CREATED, Json(out)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/flows/{id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn list(
    State(store): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let params = query.map(|Query(q)| q).unwrap_or_default();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let bad = |name: &str, why: &str| {
        Problem::validation(vec![
            json!({"parameter": name, "field": name, "message": why}),
        ])
    };
    let limit = match param("limit") {
        None => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| bad("limit", "1 to 100"))?,
    };
    let statuses: Option<Vec<String>> = match param("status") {
        None => None,
        Some(v) => {
            let list: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
            if list.iter().any(|s| !STATUSES.contains(&s.as_str())) {
                return Err(bad("status", "unknown status"));
            }
            Some(list)
        }
    };
    let flow_type = match param("flow_type") {
        None => None,
        Some(t) if phases_of(&t).is_some() => Some(t),
        Some(_) => return Err(bad("flow_type", "unknown flow type")),
    };
    let before = match param("cursor") {
        None => None,
        Some(c) => Some(
            c.strip_prefix("after-")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("cursor", "not a cursor of this server"))?,
        ),
    };
    let s = lock(&store);
    let mut flows: Vec<&Flow> = s
        .flows
        .values()
        .filter(|f| f.account == account && f.engagement == engagement && !f.deleted)
        .filter(|f| {
            statuses
                .as_ref()
                .is_none_or(|l| l.iter().any(|x| x == f.status))
        })
        .filter(|f| flow_type.as_ref().is_none_or(|t| t == f.flow_type))
        .filter(|f| before.is_none_or(|b| f.seq < b))
        .collect();
    flows.sort_by_key(|f| std::cmp::Reverse(f.seq));
    let more = flows.len() > limit;
    flows.truncate(limit);
    let next = if more {
        flows.last().map(|f| format!("after-{:x}", f.seq))
    } else {
        None
    };
    let items: Vec<Value> = flows.iter().map(|f| f.summary()).collect();
    Ok(Json(json!({"next_cursor": next, "items": items, "count": items.len()})).into_response())
}

async fn read(State(store): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let id = flow_id(&id)?;
    let s = lock(&store);
    let f = s
        .visible(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    Ok(Json(f.to_json()).into_response())
}

async fn events(State(store): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let id = flow_id(&id)?;
    let s = lock(&store);
    let f = s
        .visible(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    Ok(Json(json!({"items": f.events, "flow_id": id})).into_response())
}

fn soft_delete(f: &mut Flow) {
    f.deleted = true;
    let from = f.status;
    f.log("status_changed", json!({"from_status": from, "to_status": "deleted", "phase": null, "detail": {"action": "delete"}}));
}

async fn delete(State(store): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let id = flow_id(&id)?;
    let mut s = lock(&store);
    let f = s
        .visible_mut(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    soft_delete(f);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// pause | resume | cancel on a flow; the status after, or why not.
fn transition(f: &mut Flow, action: &str) -> Result<(), Problem> {
    let detail = json!({"action": action});
    match (action, f.status) {
        ("pause", "initialized" | "running" | "waiting_for_input") => {
            f.paused_from = Some(f.status);
            f.set_status("paused", detail);
        }
        ("resume", "paused") => {
            let back = f.paused_from.take().unwrap_or("running");
            f.set_status(back, detail);
        }
        ("cancel", "initialized" | "running" | "waiting_for_input" | "paused") => {
            if let Some(p) = f.phases.get_mut(f.current) {
                if p.status != "completed" {
                    p.status = "cancelled";
                }
            }
            f.set_status("cancelled", detail);
        }
        ("retry", "failed") => f.retry(),
        _ => return Err(Problem::illegal(f.status)),
    }
    Ok(())
}

async fn action(
    State(store): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    req: Request,
) -> Answer {
    if !["pause", "resume", "cancel", "retry", "input"].contains(&action.as_str()) {
        return Err(Problem::new(
            404,
            "route_not_found",
            "There is no such action.",
        ));
    }
    let (account, engagement) = caller(&store, req.headers())?;
    let id = flow_id(&id)?;
    if action == "input" {
        {
            let s = lock(&store);
            let f = s
                .visible(account, engagement, id)
                .ok_or_else(Problem::not_found)?;
            if f.status != "waiting_for_input" {
                return Err(Problem::illegal(f.status));
            }
        }
        let body = json_body(req).await?;
        let mut errors = Vec::new();
        match body.get("approved") {
            Some(Value::Bool(_)) => {}
            Some(_) => errors.push(field_error("/approved", "expected true or false")),
            None => errors.push(field_error("/approved", "required")),
        }
        if let Value::Object(m) = &body {
            expect_kinds(m, &[("comment", TEXT)], &mut errors);
            for k in m.keys().filter(|k| *k != "approved" && *k != "comment") {
                errors.push(field_error(&format!("/{k}"), "unknown member"));
            }
        } else {
            errors = vec![field_error("", "expected an object")];
        }
        refuse_if_any(&body, errors)?;
        let mut s = lock(&store);
        let f = s
            .visible_mut(account, engagement, id)
            .ok_or_else(Problem::not_found)?;
        if f.status != "waiting_for_input" {
            return Err(Problem::illegal(f.status));
        }
        let comment = body
            .get("comment")
            .and_then(Value::as_str)
            .map(String::from);
        f.answer(body["approved"] == json!(true), comment);
        return Ok(Json(f.to_json()).into_response());
    }
    let mut s = lock(&store);
    let f = s
        .visible_mut(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    transition(f, &action)?;
    Ok(Json(f.to_json()).into_response())
}

async fn compat_initialize(State(store): State<Shared>, req: Request) -> Answer {
    let (account, engagement) = caller(&store, &req.headers().clone())?;
    let body = json_body(req).await?;
    let Value::Object(fields) = &body else {
        return Err(Problem::validation(vec![field_error(
            "",
            "expected an object",
        )]));
    };
    let mut errors = Vec::new();
    match fields.get("raw_data") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    errors.push(field_error(&format!("/raw_data/{i}"), "expected an object"));
                }
            }
        }
        Some(_) => errors.push(field_error("/raw_data", "expected a list of records")),
    }
    expect_kinds(
        fields,
        &[
            ("flow_name", TEXT),
            ("configuration", OBJECT),
            ("metadata", OBJECT),
        ],
        &mut errors,
    );
    refuse_if_any(&body, errors)?;
    let or_empty = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned().unwrap_or(json!({}));
    let raw = fields
        .get("raw_data")
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or(json!([]));
    let mut s = lock(&store);
    s.next_seq += 1;
    let flow = Flow::new(NewFlow {
        seq: s.next_seq,
        account,
        engagement,
        flow_type: "discovery",
        name: fields
            .get("flow_name")
            .and_then(Value::as_str)
            .map(String::from),
        configuration: or_empty(fields.get("configuration")),
        metadata: or_empty(fields.get("metadata")),
        initial_data: json!({"raw_data": raw}),
    });
    let id = flow.id;
    s.flows.insert(id, flow);
    Ok(Json(json!({"success": true, "flow_id": id, "status": "initialized", "message": "accepted", "error": null})).into_response())
}

async fn compat_status(
    State(store): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let id = flow_id(&id)?;
    let s = lock(&store);
    let f = s
        .visible(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    let outputs: Map<String, Value> = f
        .phases
        .iter()
        .filter(|p| p.status == "completed")
        .map(|p| (p.name.to_string(), p.output.clone()))
        .collect();
    Ok(Json(json!({
        "flow_id": f.id, "flow_type": f.flow_type, "flow_name": f.name, "status": f.status,
        "current_phase": f.current_phase(), "progress_percentage": f.progress(),
        "created_at": f.created_at, "updated_at": f.updated_at,
        "configuration": f.configuration, "metadata": f.metadata,
        "phases": {"total": f.phases.len(), "completed": f.completed_phases()},
        "state_data": {"initial_data": f.initial_data, "phase_outputs": outputs},
    }))
    .into_response())
}

fn compat_answer(f: &Flow, message: &str) -> Response {
    Json(json!({"success": true, "flow_id": f.id, "status": f.status, "message": message}))
        .into_response()
}

async fn compat_action(
    State(store): State<Shared>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Answer {
    if action != "pause" && action != "resume" {
        return Err(Problem::new(
            404,
            "route_not_found",
            "There is no such action.",
        ));
    }
    let (account, engagement) = caller(&store, &headers)?;
    let id = flow_id(&id)?;
    let mut s = lock(&store);
    let f = s
        .visible_mut(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    transition(f, &action)?;
    Ok(compat_answer(f, "done"))
}

async fn compat_delete(
    State(store): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let id = flow_id(&id)?;
    let mut s = lock(&store);
    let f = s
        .visible_mut(account, engagement, id)
        .ok_or_else(Problem::not_found)?;
    soft_delete(f);
    Ok(compat_answer(f, "deleted"))
}

async fn active(State(store): State<Shared>, headers: HeaderMap) -> Answer {
    let (account, engagement) = caller(&store, &headers)?;
    let s = lock(&store);
    let mut flows: Vec<&Flow> = s
        .flows
        .values()
        .filter(|f| f.account == account && f.engagement == engagement && !f.deleted)
        .filter(|f| f.flow_type == "discovery" && !f.is_terminal())
        .collect();
    flows.sort_by_key(|f| f.seq);
    let items: Vec<Value> = flows
        .iter()
        .map(|f| {
            json!({"flow_id": f.id, "status": f.status, "type": f.flow_type, "current_phase": f.current_phase(),
                   "phases_completed": f.completed_phases(), "progress_percentage": f.progress(),
                   "client_account_id": f.account, "engagement_id": f.engagement})
        })
        .collect();
    Ok(Json(Value::Array(items)).into_response())
}
