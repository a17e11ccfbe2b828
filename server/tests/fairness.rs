//! Fairness between tenants and the per-tenant create rate limit, on PostgreSQL and SQLite.
//!
//! Fairness is asserted as an order of events, not a latency: tenant A queues slow flows
//! first, tenant B one flow after; B's flow must complete while most of A's backlog has not
//! even started (claimed oldest-first from one global queue, it would wait behind all of
//! them), and A never has more flows in a phase than its cap.

#[macro_use]
mod engine_support;

use engine_support::Harness;
use flowgate_server::{provision_tenant, ServerConfig};
use serde_json::{json, Value};

const BACKLOG: usize = 8;

on_both!(a_backlog_of_one_tenant_does_not_hold_back_another);
async fn a_backlog_of_one_tenant_does_not_hold_back_another(h: &Harness) {
    // Two workers: the default cap lets A hold one of them, whatever its backlog.
    let mut a_flows = Vec::new();
    for _ in 0..BACKLOG {
        a_flows.push(
            h.create(
                "discovery",
                json!({"simulate": {"data_import": {"delay_ms": 500}}}),
                json!({}),
            )
            .await,
        );
    }
    let (b_key, b_id) = h
        .create_as_tenant_b(json!({"flow_type": "discovery", "flow_name": "b's only flow"}))
        .await;
    let started = std::time::Instant::now();
    loop {
        let f: Value = h
            .client
            .get(h.url(&format!("/api/v1/flows/{b_id}")))
            .bearer_auth(&b_key)
            .send()
            .await
            .expect("get as b")
            .json()
            .await
            .expect("body");
        if f["status"] == "completed" {
            break;
        }
        assert!(
            started.elapsed() < engine_support::WAIT,
            "b's flow never completed: {f:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // A's flows each hold a worker for 500 ms, one at a time: when B's flow is done,
    // most of them have not started.
    let mut waiting = 0;
    let mut running = 0;
    for id in &a_flows {
        match h.get(id).await["phases"][0]["status"].as_str() {
            Some("pending") => waiting += 1,
            Some("running") => running += 1,
            _ => {}
        }
    }
    assert!(
        waiting >= BACKLOG / 2,
        "b's flow completed only after {} of a's {BACKLOG} queued flows started",
        BACKLOG - waiting
    );
    assert!(
        running <= 1,
        "{running} of a's flows in a phase at once (cap 1)"
    );

    // The cap held all along, concurrent claims included: no two of A's slow phases
    // overlapped in time.
    let mut spans = Vec::new();
    for id in &a_flows {
        h.wait_status(id, "completed").await;
        let events = h.events(id).await;
        let at = |kind: &str| {
            events
                .iter()
                .find(|e| e["kind"] == kind && e["phase"] == "data_import")
                .and_then(|e| e["at"].as_str())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .unwrap_or_else(|| panic!("no {kind} of data_import in {events:?}"))
        };
        spans.push((at("phase_started"), at("phase_completed")));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two of a's phases ran at once (cap 1): {pair:?}"
        );
    }
}

/// Over the burst, a tenant's creates are refused 429 problem+json with Retry-After, and
/// store nothing; another tenant is not affected.
#[tokio::test]
async fn creates_over_the_tenant_rate_are_429_with_retry_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig {
        workers: 0,
        tenant_create_rate: 1,
        tenant_create_burst: 3,
        ..ServerConfig::with_sqlite_path(&dir.path().join("rate.db"))
    };
    let h = engine_support::start(config, Some(dir)).await;
    let other = provision_tenant(&h.server.db, "other", &[])
        .await
        .expect("tenant");
    let create = |key: String, name: &'static str| {
        let client = h.client.clone();
        let url = h.url("/api/v1/flows");
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"flow_type": "planning", "flow_name": name}))
                .send()
                .await
                .expect("create")
        }
    };
    for _ in 0..3 {
        assert_eq!(create(h.key.clone(), "within").await.status().as_u16(), 201);
    }
    let refused = create(h.key.clone(), "over").await;
    assert_eq!(refused.status().as_u16(), 429);
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry_after >= 1);
    assert!(refused
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/problem+json")));
    let body: Value = refused.json().await.expect("problem");
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["status"], 429);
    // Nothing stored for the refused create.
    let list: Value = h
        .client
        .get(h.url("/api/v1/flows?limit=100"))
        .bearer_auth(&h.key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list body");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|f| f["flow_name"].as_str())
        .collect();
    assert_eq!(names, vec!["within"; 3]);
    // The other tenant has its own allowance.
    assert_eq!(
        create(other.api_key.clone(), "other")
            .await
            .status()
            .as_u16(),
        201
    );
}

on_both!(a_lone_tenants_flow_is_claimed_once);
/// With nobody else waiting, a flow's phases are handed from one to the next under the
/// claim's lease (one claim per flow, one transaction per transition); the events still
/// show every phase started and completed, in order, with a fencing token per start.
async fn a_lone_tenants_flow_is_claimed_once(h: &Harness) {
    let flows = [
        h.create("discovery", json!({}), json!({})).await,
        h.create("discovery", json!({}), json!({})).await,
    ];
    for id in &flows {
        h.wait_status(id, "completed").await;
        let events = h.events(id).await;
        let started: Vec<(&str, i64)> = events
            .iter()
            .filter(|e| e["kind"] == "phase_started")
            .map(|e| {
                (
                    e["phase"].as_str().unwrap_or_default(),
                    e["detail"]["fencing_token"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(
            started.iter().map(|s| s.0).collect::<Vec<_>>(),
            engine_support::completed_phases(&events),
            "every phase started once and completed, in order: {events:#?}"
        );
        assert_eq!(started.len(), 6, "{events:#?}");
        let tokens: Vec<i64> = started.iter().map(|s| s.1).collect();
        assert!(
            tokens.windows(2).all(|w| w[1] == w[0] + 1),
            "a new fencing token per start: {tokens:?}"
        );
    }
    let metrics = h.metrics().await;
    let counter = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert_eq!(counter("flowgate_engine_claims_total "), 2.0, "{metrics}");
    assert_eq!(
        counter("flowgate_engine_phases_completed_total "),
        12.0,
        "{metrics}"
    );
}

/// The hand-off yields to another tenant: every worker is busy with A's flows (no cap),
/// B creates a flow meanwhile; at the end of A's current phases the workers serve B,
/// whose whole flow completes before A's flows start their next slow phase.
#[tokio::test]
async fn the_hand_off_yields_to_another_tenant_on_postgres() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_engine").await else {
        return;
    };
    let mut config = engine_support::test_config(ServerConfig::with_pg_pool(db.pool().await));
    config.tenant_max_running = Some(0);
    the_hand_off_yields_to_another_tenant(&engine_support::start(config, None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_off_yields_to_another_tenant_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config =
        engine_support::test_config(ServerConfig::with_sqlite_path(&dir.path().join("e.db")));
    config.tenant_max_running = Some(0);
    the_hand_off_yields_to_another_tenant(&engine_support::start(config, Some(dir)).await).await;
}

async fn the_hand_off_yields_to_another_tenant(h: &Harness) {
    let slow = json!({"simulate": {
        "data_import": {"delay_ms": 2000},
        "field_mapping": {"delay_ms": 700},
    }});
    // As many slow flows as workers (2), both running before B arrives; their first
    // phase is long enough that B's create lands inside it even on a loaded machine.
    let a_flows = [
        h.create("discovery", slow.clone(), json!({})).await,
        h.create("discovery", slow, json!({})).await,
    ];
    for id in &a_flows {
        h.wait_until(id, "data_import running", |f| {
            f["phases"][0]["status"] == "running"
        })
        .await;
    }
    let (b_key, b_id) = h
        .create_as_tenant_b(json!({"flow_type": "discovery"}))
        .await;
    let started = std::time::Instant::now();
    let b_done = loop {
        let events = h.events_as(&b_id, &b_key).await;
        if let Some(done) = events
            .iter()
            .find(|e| e["kind"] == "status_changed" && e["to_status"] == "completed")
        {
            break at(done);
        }
        assert!(
            started.elapsed() < engine_support::WAIT,
            "b never completed: {events:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    // Handing A's flows on regardless would have run both slow field_mapping phases
    // (700 ms each, both workers) before B's first phase.
    let mut mapping_starts = Vec::new();
    for id in &a_flows {
        h.wait_status(id, "completed").await;
        let events = h.events(id).await;
        let start = events
            .iter()
            .find(|e| e["kind"] == "phase_started" && e["phase"] == "field_mapping")
            .unwrap_or_else(|| panic!("no field_mapping start in {events:#?}"));
        mapping_starts.push(at(start));
    }
    let last_mapping = mapping_starts.into_iter().max().expect("two flows");
    if b_done > last_mapping {
        let mut timeline = Vec::new();
        for (who, id, key) in [
            ("a1", &a_flows[0], &h.key),
            ("a2", &a_flows[1], &h.key),
            ("b", &b_id, &b_key),
        ] {
            for e in h.events_as(id, key).await {
                timeline.push(format!(
                    "{} {who} {} {} {}",
                    e["at"].as_str().unwrap_or(""),
                    e["kind"].as_str().unwrap_or(""),
                    e["phase"].as_str().unwrap_or(""),
                    e["detail"]
                ));
            }
        }
        timeline.sort();
        panic!(
            "b's flow completed at {b_done}, after both of a's next phases started (last {last_mapping}):\n{}",
            timeline.join("\n")
        );
    }
}

fn at(event: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    event["at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("no time in {event}"))
}
