//! A small axum app with endpoints shaped to exercise each harness feature, and helpers
//! to run a scenario text against it.
#![allow(dead_code)]

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_harness::{EnvMap, Profile, RunOptions, Suite};
use flowgate_reports::{RunReport, ScenarioResult};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Flow {
    id: String,
    tenant: String,
    flow_type: String,
    name: Value,
    gets: usize,
}

#[derive(Default)]
struct AppState {
    flows: Mutex<HashMap<String, Flow>>,
    once: Mutex<HashMap<String, u32>>,
    counter: Mutex<u64>,
    throttled: Mutex<HashMap<String, u32>>,
}

type Shared = Arc<AppState>;

fn tenant(h: &HeaderMap) -> Option<String> {
    match h.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer key-a") => Some("a".into()),
        Some("Bearer key-b") => Some("b".into()),
        _ => None,
    }
}

fn problem(status: StatusCode, code: &str) -> Response {
    (
        status,
        [("content-type", "application/problem+json")],
        json!({"code": code, "status": status.as_u16(), "detail": format!("{code}")}).to_string(),
    )
        .into_response()
}

/// (status, progress, phase) by number of reads, per flow type.
fn table(flow_type: &str) -> Vec<(&'static str, f64, Option<&'static str>)> {
    match flow_type {
        "fails" => vec![
            ("initialized", 0.0, Some("a")),
            ("running", 50.0, Some("b")),
            ("failed", 50.0, Some("b")),
        ],
        "stuck" => vec![("initialized", 0.0, Some("a"))],
        "backwards" => vec![
            ("initialized", 0.0, Some("a")),
            ("running", 50.0, Some("b")),
            ("initialized", 0.0, Some("a")),
        ],
        "resurrect" => vec![
            ("initialized", 0.0, Some("a")),
            ("completed", 100.0, None),
            ("running", 50.0, Some("b")),
        ],
        "regress" => vec![
            ("running", 50.0, Some("b")),
            ("running", 20.0, Some("b")),
            ("completed", 100.0, None),
        ],
        "disorder" => vec![
            ("running", 10.0, Some("b")),
            ("running", 20.0, Some("a")),
            ("completed", 100.0, None),
        ],
        _ => vec![
            ("initialized", 0.0, Some("a")),
            ("running", 50.0, Some("b")),
            ("completed", 100.0, None),
        ],
    }
}

fn flow_json(f: &Flow) -> Value {
    let t = table(&f.flow_type);
    let (status, progress, phase) = t[f.gets.saturating_sub(1).min(t.len() - 1)];
    json!({
        "flow_id": f.id, "flow_type": f.flow_type, "flow_name": f.name, "status": status,
        "progress_percentage": progress, "current_phase": phase,
        "phases": [{"name": "a"}, {"name": "b"}], "error": null, "tenant": f.tenant,
    })
}

async fn create(State(s): State<Shared>, h: HeaderMap, body: Option<Json<Value>>) -> Response {
    let Some(t) = tenant(&h) else {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let Some(Json(body)) = body else {
        return problem(StatusCode::BAD_REQUEST, "malformed_json");
    };
    let Some(ft) = body.get("flow_type").and_then(|v| v.as_str()) else {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    };
    let id = uuid::Uuid::new_v4().to_string();
    let f = Flow {
        id: id.clone(),
        tenant: t,
        flow_type: ft.into(),
        name: body.get("flow_name").cloned().unwrap_or(Value::Null),
        gets: 0,
    };
    let out = flow_json(&f);
    s.flows.lock().unwrap().insert(id.clone(), f);
    (
        StatusCode::CREATED,
        [("location", format!("/flows/{id}"))],
        Json(out),
    )
        .into_response()
}

async fn read(State(s): State<Shared>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(t) = tenant(&h) else {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let mut flows = s.flows.lock().unwrap();
    match flows.get_mut(&id) {
        Some(f) if f.tenant == t => {
            f.gets += 1;
            Json(flow_json(f)).into_response()
        }
        _ => problem(StatusCode::NOT_FOUND, "not_found"),
    }
}

/// Ignores the tenant: the defect the matrix must catch.
async fn leaky_read(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let flows = s.flows.lock().unwrap();
    match flows.get(&id) {
        Some(f) => Json(flow_json(f)).into_response(),
        None => problem(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn delete(State(s): State<Shared>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(t) = tenant(&h) else {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let mut flows = s.flows.lock().unwrap();
    match flows.get(&id) {
        Some(f) if f.tenant == t => {
            flows.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => problem(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn list(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(t) = tenant(&h) else {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let leak = q.contains_key("leak");
    let flows = s.flows.lock().unwrap();
    let items: Vec<Value> = flows
        .values()
        .filter(|f| leak || f.tenant == t)
        .map(flow_json)
        .collect();
    Json(json!({"items": items, "next_cursor": null})).into_response()
}

async fn echo(h: HeaderMap, Query(q): Query<HashMap<String, String>>, body: String) -> Response {
    let headers: serde_json::Map<String, Value> = h
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                Value::String(v.to_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    let json_body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (
        [("x-echo", "yes"), ("x-count", "3")],
        Json(json!({"headers": headers, "query": q, "body": body, "json": json_body, "len": body.len()})),
    )
        .into_response()
}

async fn once(State(s): State<Shared>, Path(key): Path<String>) -> Response {
    let mut m = s.once.lock().unwrap();
    let n = m.entry(key.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        (StatusCode::CREATED, Json(json!({"id": key}))).into_response()
    } else {
        problem(StatusCode::CONFLICT, "idempotency_key_reused")
    }
}

/// The first `n` requests of `key` are answered 429 with `Retry-After: {after}` (`none`:
/// without the header; `date`: an HTTP date one second ahead), the next 201.
async fn throttled(
    State(s): State<Shared>,
    Path((key, n, after)): Path<(String, u32, String)>,
) -> Response {
    let seen = {
        let mut m = s.throttled.lock().unwrap();
        let seen = m.entry(key.clone()).or_insert(0);
        *seen += 1;
        *seen
    };
    if seen > n {
        return (
            StatusCode::CREATED,
            Json(json!({"id": key, "after": seen - 1})),
        )
            .into_response();
    }
    let mut r = problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let value = match after.as_str() {
        "none" => None,
        "date" => Some(httpdate::fmt_http_date(
            std::time::SystemTime::now() + std::time::Duration::from_secs(1),
        )),
        seconds => Some(seconds.to_string()),
    };
    if let Some(v) = value {
        r.headers_mut()
            .insert("retry-after", v.parse().expect("header value"));
    }
    r
}

async fn counter(State(s): State<Shared>) -> Json<Value> {
    let mut c = s.counter.lock().unwrap();
    *c += 1;
    Json(json!({"id": format!("id-{}", *c), "constant": "same-for-all"}))
}

async fn slow() -> Json<Value> {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    Json(json!({"ok": true}))
}

async fn text() -> Response {
    (
        [("content-type", "text/plain")],
        "hello world\nTraceback (most recent call last)",
    )
        .into_response()
}

async fn hang() -> Json<Value> {
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    Json(json!({}))
}

/// Starts the app on 127.0.0.1:0 and returns its base URL.
pub async fn start_app() -> String {
    let state: Shared = Arc::new(AppState::default());
    let app = Router::new()
        .route(
            "/health",
            get(|| async {
                Json(json!({"status": "ok", "version": "1.2.3", "service": "testapp"}))
            }),
        )
        .route("/flows", post(create).get(list))
        .route("/flows/{id}", get(read).delete(delete))
        .route("/leaky/flows/{id}", get(leaky_read))
        .route("/echo", get(echo).post(echo))
        .route("/once/{key}", post(once))
        .route("/counter", post(counter))
        .route("/throttled/{key}/{n}/{after}", post(throttled))
        .route("/slow", get(slow))
        .route("/text", get(text))
        .route("/hang", get(hang))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub const SECRET_A: &str = "key-a";

pub fn profile_text(base_url: &str) -> String {
    format!(
        r#"name: test
base_url: "{base_url}"
health_path: /health
capabilities: [fast]
default_identity: tenant_a
identities:
  tenant_a:
    headers: {{ Authorization: "Bearer ${{secret:TEST_KEY_A}}" }}
  tenant_b:
    headers: {{ Authorization: "Bearer key-b" }}
  anonymous:
    headers: {{}}
variables:
  greeting: hello
timeouts: {{ request: 5s, poll: 3s }}
state_machines:
  flow:
    terminal: [completed, failed, cancelled]
    transitions:
      initialized: [running, paused, cancelled]
      running: [completed, failed, paused, cancelled]
      paused: [running, cancelled]
"#
    )
}

pub fn profile(base_url: &str) -> Profile {
    profile_with(base_url, "")
}

/// The test profile with `extra` (top-level YAML) appended.
pub fn profile_with(base_url: &str, extra: &str) -> Profile {
    let env = EnvMap(HashMap::from([(
        "TEST_KEY_A".to_string(),
        SECRET_A.to_string(),
    )]));
    let text = format!("{}{extra}", profile_text(base_url));
    Profile::parse(&text, "test.target.yaml", &env).expect("test profile loads")
}

/// Writes files into a temp dir; returns it (keep it alive while the suite runs).
pub fn write_suite(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// Runs a suite made of `files` against a fresh app; returns the report.
pub async fn run_files(files: &[(&str, &str)]) -> RunReport {
    run_files_with_profile(files, "").await
}

/// As [`run_files`], with `extra` (top-level YAML) appended to the test profile.
pub async fn run_files_with_profile(files: &[(&str, &str)], extra: &str) -> RunReport {
    let base = start_app().await;
    let dir = write_suite(files);
    let suite =
        Suite::read(&[dir.path().to_path_buf()]).unwrap_or_else(|e| panic!("suite loads:\n{e}"));
    let profile = profile_with(&base, extra);
    suite
        .validate_against(&profile)
        .unwrap_or_else(|e| panic!("suite validates:\n{e}"));
    flowgate_harness::run_suite(
        &suite,
        &profile,
        RunOptions {
            jobs: 2,
            ..Default::default()
        },
    )
    .await
}

/// Runs one scenario text; returns its result.
pub async fn run_one(yaml: &str) -> ScenarioResult {
    let report = run_files(&[("s.yaml", yaml)]).await;
    report
        .scenarios
        .into_iter()
        .next()
        .expect("one scenario result")
}

/// Scenario header for tests.
pub fn scenario(steps: &str) -> String {
    format!("name: t\ncategory: health\nseverity: high\nsteps:\n{steps}")
}
