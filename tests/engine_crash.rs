//! The engine across processes, on PostgreSQL, with the real `flowgate serve` binary:
//!
//! - crash: a server process is killed with SIGKILL while flows are mid-phase; a second
//!   process takes the flows over once the leases expire; every flow completes and every
//!   phase's result is recorded exactly once;
//! - scale-out: two processes share one database and run 200 flows; all complete and no
//!   phase runs twice.
//!
//! Each test creates its own database (`flowgate_crash_<uuid>`, through `flowgate_testkit`:
//! `DATABASE_URL`, the local server, or Docker) and drops it at the end.

use flowgate_server::db::Db;
use flowgate_testkit::TestDatabase;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `flowgate serve` child process, killed (SIGKILL) when dropped.
struct ServerProcess {
    child: Child,
    base_url: String,
}

impl ServerProcess {
    fn start(db_url: &str, workers: u32, lease_ms: u64) -> ServerProcess {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                db_url,
                "--allow-simulated-faults",
                "--workers",
                &workers.to_string(),
                "--lease-ms",
                &lease_ms.to_string(),
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start flowgate serve");
        ServerProcess {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_healthy(&mut self, client: &reqwest::Client) {
        let start = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/health", self.base_url)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("flowgate serve exited early: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "server never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown hook runs, leases stay behind.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn create_flow(client: &reqwest::Client, base: &str, key: &str, body: &Value) -> String {
    let r = client
        .post(format!("{base}/api/v1/flows"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("create request");
    let status = r.status();
    let v: Value = r.json().await.expect("create body");
    assert_eq!(status.as_u16(), 201, "{v}");
    v["flow_id"].as_str().expect("flow_id").to_string()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
        .get::<i64, _>(0)
}

async fn wait_all_terminal(pool: &PgPool, total: i64, limit: Duration) {
    let start = Instant::now();
    loop {
        let done = count(
            pool,
            "SELECT COUNT(*) FROM flows WHERE status IN ('completed', 'failed', 'cancelled')",
        )
        .await;
        if done == total {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "only {done} of {total} flows finished within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// (flow, phase) pairs whose `kind` events are not exactly one.
async fn not_exactly_once(pool: &PgPool, kind: &str) -> Vec<(String, String, i64)> {
    sqlx::query(
        "SELECT p.flow_id::text AS flow, p.name AS phase, \
         (SELECT COUNT(*) FROM flow_events e WHERE e.flow_id = p.flow_id AND e.phase = p.name AND e.kind = $1) AS n \
         FROM flow_phases p",
    )
    .bind(kind)
    .fetch_all(pool)
    .await
    .expect("events per phase")
    .into_iter()
    .map(|r| (r.get("flow"), r.get("phase"), r.get::<i64, _>("n")))
    .filter(|(_, _, n)| *n != 1)
    .collect()
}

async fn tenant_key(url: &str) -> String {
    let db = Db::connect(url, 2).await.expect("connect and migrate");
    let t = flowgate_server::provision_tenant(&db, "engine crash test", &[])
        .await
        .expect("tenant");
    if let Db::Postgres(p) = db {
        p.close().await;
    }
    t.api_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_process_flows_are_taken_over_and_recorded_once() {
    let Some(db) = TestDatabase::create("flowgate_crash").await else {
        return;
    };
    let key = tenant_key(db.url()).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(db.url())
        .await
        .expect("pool");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let mut first = ServerProcess::start(db.url(), 4, 2000);
    first.wait_healthy(&client).await;
    // Slow phases (400 ms each) so that the kill lands mid-phase.
    let slow: serde_json::Map<String, Value> = [
        "data_import",
        "field_mapping",
        "data_cleansing",
        "asset_creation",
        "asset_inventory",
        "dependency_analysis",
    ]
    .iter()
    .map(|p| (p.to_string(), json!({"delay_ms": 400})))
    .collect();
    let body = json!({
        "flow_type": "discovery",
        "configuration": {"simulate": slow},
        "initial_data": {"raw_data": [{"name": "a", "dependencies": ["b"]}, {"name": "b"}]},
    });
    const FLOWS: i64 = 12;
    for _ in 0..FLOWS {
        create_flow(&client, &first.base_url, &key, &body).await;
    }
    // Kill once some phases completed and others are running.
    let start = Instant::now();
    loop {
        let completed = count(
            &pool,
            "SELECT COUNT(*) FROM flow_events WHERE kind = 'phase_completed'",
        )
        .await;
        let running = count(
            &pool,
            "SELECT COUNT(*) FROM flow_phases WHERE status = 'running'",
        )
        .await;
        if completed >= 4 && running >= 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first server never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let leased = count(
        &pool,
        "SELECT COUNT(*) FROM flows WHERE lease_owner IS NOT NULL",
    )
    .await;
    assert!(leased >= 1, "the kill should leave leases behind");

    let mut second = ServerProcess::start(db.url(), 4, 2000);
    second.wait_healthy(&client).await;
    wait_all_terminal(&pool, FLOWS, Duration::from_secs(120)).await;

    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM flows WHERE status = 'completed'"
        )
        .await,
        FLOWS
    );
    assert_eq!(not_exactly_once(&pool, "phase_completed").await, vec![]);
    // The killed process's phases ran again on the second one.
    let rerun = count(
        &pool,
        "SELECT COUNT(*) FROM (SELECT flow_id, phase FROM flow_events WHERE kind = 'phase_started' \
         GROUP BY flow_id, phase HAVING COUNT(*) > 1) x",
    )
    .await;
    assert!(rerun >= 1, "no phase was taken over after the kill");
    second.kill();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_run_200_flows_without_running_a_phase_twice() {
    let Some(db) = TestDatabase::create("flowgate_scale").await else {
        return;
    };
    let key = tenant_key(db.url()).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(db.url())
        .await
        .expect("pool");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let mut a = ServerProcess::start(db.url(), 4, 10_000);
    let mut b = ServerProcess::start(db.url(), 4, 10_000);
    a.wait_healthy(&client).await;
    b.wait_healthy(&client).await;
    let body = json!({
        "flow_type": "discovery",
        "initial_data": {"raw_data": [
            {"name": "web", "dependencies": ["api"], "business_criticality": "high"},
            {"name": "api", "dependencies": ["db"]},
            {"name": "db", "technology_stack": ["postgres"]}
        ]},
    });
    const FLOWS: i64 = 200;
    let mut creates =
        futures_lite_join(&client, &[&a.base_url, &b.base_url], &key, &body, FLOWS).await;
    creates.sort();
    creates.dedup();
    assert_eq!(creates.len() as i64, FLOWS);
    wait_all_terminal(&pool, FLOWS, Duration::from_secs(300)).await;

    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM flows WHERE status = 'completed'"
        )
        .await,
        FLOWS
    );
    assert_eq!(not_exactly_once(&pool, "phase_started").await, vec![]);
    assert_eq!(not_exactly_once(&pool, "phase_completed").await, vec![]);
    // Both processes did work (worker ids start with host-pid).
    let pids: Vec<String> = sqlx::query(
        "SELECT DISTINCT split_part(detail->>'worker', ':', 2) AS pid FROM flow_events WHERE kind = 'phase_started'",
    )
    .fetch_all(&pool)
    .await
    .expect("workers")
    .into_iter()
    .map(|r| r.get("pid"))
    .collect();
    assert_eq!(
        pids.len(),
        2,
        "expected both processes to claim flows: {pids:?}"
    );
    a.kill();
    b.kill();
    pool.close().await;
}

/// Creates `n` flows, alternating between the servers, 8 requests in flight.
async fn futures_lite_join(
    client: &reqwest::Client,
    bases: &[&str],
    key: &str,
    body: &Value,
    n: i64,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let client = client.clone();
        let base = bases[(i as usize) % bases.len()].to_string();
        let key = key.to_string();
        let body = body.clone();
        set.spawn(async move { create_flow(&client, &base, &key, &body).await });
        if set.len() >= 8 {
            if let Some(r) = set.join_next().await {
                ids.push(r.expect("create task"));
            }
        }
    }
    while let Some(r) = set.join_next().await {
        ids.push(r.expect("create task"));
    }
    ids
}
