//! A small axum target on 127.0.0.1:0, and load scenarios loaded through the harness.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_harness::{EnvMap, Profile, Suite, SuiteScenario};
use flowgate_load::{run_scenario, LoadOptions, Overrides};
use serde_json::{json, Value};

#[derive(Clone, Default)]
pub struct AppState {
    /// flow id → polls seen so far
    flows: Arc<Mutex<HashMap<u64, u64>>>,
    next: Arc<AtomicU64>,
    /// Polls before a flow reports `completed`; 0 means never.
    pub complete_after: u64,
    /// Authorization headers seen, to check identities.
    pub seen_auth: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// Serves: GET /fast, GET /slow (sleeps 50 ms), POST /flows (201 {flow_id}),
/// GET /flows/{id} (running until `complete_after` polls, then completed),
/// GET /missing (404).
pub async fn serve(complete_after: u64) -> (String, AppState) {
    let state = AppState {
        complete_after,
        ..AppState::default()
    };
    let app = Router::new()
        .route("/fast", get(fast))
        .route("/slow", get(slow))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/flows", post(create))
        .route("/flows/{id}", get(status))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), state)
}

async fn fast(State(s): State<AppState>, headers: HeaderMap) -> Json<Value> {
    if let Some(a) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        *s.seen_auth
            .lock()
            .unwrap()
            .entry(a.to_string())
            .or_insert(0) += 1;
    }
    Json(json!({"ok": true}))
}

async fn slow() -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Json(json!({"ok": true}))
}

async fn create(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let id = s.next.fetch_add(1, Ordering::Relaxed);
    s.flows.lock().unwrap().insert(id, 0);
    (
        StatusCode::CREATED,
        Json(json!({"flow_id": id, "status": "initialized"})),
    )
}

async fn status(State(s): State<AppState>, Path(id): Path<u64>) -> (StatusCode, Json<Value>) {
    let mut flows = s.flows.lock().unwrap();
    let Some(polls) = flows.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"code": "not_found"})));
    };
    *polls += 1;
    let done = s.complete_after > 0 && *polls >= s.complete_after;
    let status = if done { "completed" } else { "running" };
    (
        StatusCode::OK,
        Json(json!({"flow_id": id, "status": status})),
    )
}

/// A profile with identities `tenant_a` and `tenant_b` against `base`.
pub fn profile(base: &str) -> Profile {
    let text = format!(
        "name: test\nbase_url: {base}\ndefault_identity: tenant_a\nidentities:\n  \
         tenant_a:\n    headers: {{ Authorization: \"Bearer a\" }}\n  \
         tenant_b:\n    headers: {{ Authorization: \"Bearer b\" }}\n"
    );
    Profile::parse(&text, "test.target.yaml", &EnvMap(HashMap::new())).unwrap()
}

/// Loads one scenario file text through the harness's loader.
pub fn load_scenario(text: &str) -> Result<SuiteScenario, String> {
    let dir = tempfile::tempdir().unwrap();
    // An empty lib/ makes the temp folder the suite root (the loader looks upwards
    // for the nearest lib/ folder).
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    let path = dir.path().join("phase.yaml");
    std::fs::write(&path, text).unwrap();
    let suite = Suite::read(&[path]).map_err(|e| e.to_string())?;
    Ok(suite.scenarios.into_iter().next().unwrap())
}

/// A load scenario: `load_body` is the YAML under `load:` (indented two spaces).
pub fn scenario(load_body: &str) -> String {
    format!("name: test phase\ncategory: load\nseverity: high\nload:\n{load_body}")
}

pub async fn run(text: &str, base: &str) -> flowgate_reports::LoadResult {
    let loaded = load_scenario(text).unwrap();
    run_scenario(
        &loaded,
        &profile(base),
        "run-1",
        &Overrides::default(),
        &LoadOptions::default(),
    )
    .await
}

/// A transaction that creates a flow and polls it until `completed` (`TIMEOUT` is
/// replaced by the poll's timeout).
pub const CREATE_AND_POLL: &str = r#"
  transactions:
    - name: flows
      steps:
        - name: create flow
          request: { method: POST, path: /flows, json: { flow_type: discovery } }
          expect: { status: 201 }
          capture: { flow_id: "$.flow_id" }
        - name: wait for completion
          poll:
            request: { method: GET, path: "/flows/{{ flow_id }}" }
            until: { status: 200, json: { "$.status": completed } }
            fail_fast: { json: { "$.status": failed } }
            interval: 20ms
            timeout: TIMEOUT
"#;
