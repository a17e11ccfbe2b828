//! Shared helpers of the engine tests: a real server (PostgreSQL or SQLite) on loopback,
//! one tenant, and HTTP helpers. Not a test file itself (a directory module).

#![allow(dead_code)]

use flowgate_server::catalogue::RetryPolicy;
use flowgate_server::{provision_tenant, spawn_for_tests, ServerConfig, TestServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Declares a test once per backend: `on_both!(name)` runs `async fn name(h: &Harness)` on
/// a fresh PostgreSQL database (when one is reachable) and on a SQLite file. Use it from
/// a test file that declares `#[macro_use] mod engine_support;`.
#[allow(unused_macros)] // not every test file runs on both backends
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn postgres() {
                let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_engine").await
                else {
                    return;
                };
                let h = super::engine_support::on_postgres(db.pool().await).await;
                super::$name(&h).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let h = super::engine_support::on_sqlite().await;
                super::$name(&h).await;
            }
        }
    };
}

/// Longest any wait in these tests may take (a busy 2-core machine).
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Harness {
    pub server: TestServer,
    pub client: reqwest::Client,
    pub key: String,
    /// Keeps a SQLite file alive.
    pub _dir: Option<tempfile::TempDir>,
}

/// The engine settings of these tests: fast retries, simulated faults allowed.
pub fn test_config(mut c: ServerConfig) -> ServerConfig {
    c.workers = 2;
    c.allow_simulated_faults = true;
    c.lease_duration = Duration::from_secs(5);
    c.retry_policy = Some(RetryPolicy {
        max_attempts: 3,
        initial_delay_ms: 10,
        multiplier: 2,
        max_delay_ms: 100,
    });
    c
}

pub async fn on_postgres(pool: sqlx::PgPool) -> Harness {
    start(test_config(ServerConfig::with_pg_pool(pool)), None).await
}

pub async fn on_sqlite() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = test_config(ServerConfig::with_sqlite_path(
        &dir.path().join("engine.db"),
    ));
    start(c, Some(dir)).await
}

pub async fn start(config: ServerConfig, dir: Option<tempfile::TempDir>) -> Harness {
    let server = spawn_for_tests(config).await.expect("server starts");
    let tenant = provision_tenant(&server.db, "engine tests", &[])
        .await
        .expect("tenant");
    Harness {
        server,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client"),
        key: tenant.api_key,
        _dir: dir,
    }
}

/// Six application records with dependencies (a cycle Auth ⇄ Ledger, one unknown
/// reference) and varied criticality, environments and costs.
pub fn sample_records() -> Value {
    json!([
        {"application_name": "Web Portal", "business_criticality": "high", "technical_complexity": "medium",
         "dependencies": ["Orders API", "Auth"], "technology_stack": ["Java", "Spring"], "environment": "prod", "owner": "web-team"},
        {"application_name": "Orders API", "business_criticality": "critical", "technical_complexity": "high",
         "dependencies": ["Orders DB"], "technology_stack": ["Java"], "environment": "production", "monthly_cost": 1200},
        {"application_name": "Orders DB", "business_criticality": "critical", "technical_complexity": "medium",
         "technology_stack": ["Oracle"], "environment": "production", "data_size_gb": 500},
        {"application_name": "Auth", "business_criticality": "high", "technical_complexity": "low",
         "dependencies": ["Ledger"], "technology_stack": ["Node"], "environment": "production"},
        {"application_name": "Ledger", "business_criticality": "medium", "technical_complexity": "high",
         "dependencies": ["Auth", "Mainframe Batch"], "technology_stack": ["COBOL", "Mainframe"], "environment": "production"},
        {"application_name": "intranet ", "business_criticality": "LOW", "technical_complexity": "low",
         "technology_stack": ["SharePoint"], "environment": "dev", "lifecycle": "deprecated", "instance_count": 3},
        {"name": "Intranet", "owner": "it"}
    ])
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url, path)
    }

    pub async fn create(
        &self,
        flow_type: &str,
        configuration: Value,
        initial_data: Value,
    ) -> String {
        let body = json!({"flow_type": flow_type, "flow_name": format!("{flow_type} test"),
                          "configuration": configuration, "initial_data": initial_data});
        self.create_with_key(&self.key, &body).await
    }

    /// POSTs `body` as a new flow with `key`; asserts 201 and returns the flow's id.
    async fn create_with_key(&self, key: &str, body: &Value) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/flows"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("create request");
        let status = r.status();
        let v: Value = r.json().await.expect("create body");
        assert_eq!(status.as_u16(), 201, "create {body}: {v}");
        v["flow_id"].as_str().expect("flow_id").to_string()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// A second tenant, "tenant b", and one flow it creates with `body`: (its key, the id).
    pub async fn create_as_tenant_b(&self, body: Value) -> (String, String) {
        let b = flowgate_server::provision_tenant(&self.server.db, "tenant b", &[])
            .await
            .expect("tenant b");
        let id = self.create_with_key(&b.api_key, &body).await;
        (b.api_key, id)
    }

    pub async fn get(&self, id: &str) -> Value {
        let r = self
            .client
            .get(self.url(&format!("/api/v1/flows/{id}")))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("get request");
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.expect("flow body")
    }

    /// POSTs an action (`pause`, `resume`, `cancel`, `retry`, `input`); returns (status, body).
    pub async fn act(&self, id: &str, action: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(&format!("/api/v1/flows/{id}/{action}")))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("action request");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        self.events_as(id, &self.key).await
    }

    /// The flow's events, read with `key` (another tenant's flow).
    pub async fn events_as(&self, id: &str, key: &str) -> Vec<Value> {
        let r = self
            .client
            .get(self.url(&format!("/api/v1/flows/{id}/events")))
            .bearer_auth(key)
            .send()
            .await
            .expect("events request");
        let v: Value = r.json().await.expect("events body");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// Polls until `pred` holds for the flow; panics with the last state after [`WAIT`].
    pub async fn wait_until(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let f = self.get(id).await;
            if pred(&f) {
                return f;
            }
            assert!(
                start.elapsed() < WAIT,
                "flow {id} never reached {what}; last state: {f:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        self.wait_until(id, status, |f| f["status"] == status).await
    }
}

/// Phase names of `phase_completed` events, in order.
pub fn completed_phases(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "phase_completed")
        .filter_map(|e| e["phase"].as_str().map(str::to_string))
        .collect()
}

pub fn count_kind(events: &[Value], kind: &str, phase: &str) -> usize {
    events
        .iter()
        .filter(|e| e["kind"] == kind && e["phase"] == phase)
        .count()
}
