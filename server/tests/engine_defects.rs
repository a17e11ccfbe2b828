//! The engine's injected defects do what they say (and only when named), plus the engine's
//! `/ready` and `/metrics` contributions. SQLite: the defects are backend-independent.

mod engine_support;

use engine_support::{completed_phases, on_sqlite, sample_records, start, test_config};
use flowgate_server::defects::Defects;
use flowgate_server::ServerConfig;
use serde_json::{json, Value};
use std::time::Duration;

async fn with_defect(name: &str) -> engine_support::Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = test_config(ServerConfig::with_sqlite_path(
        &dir.path().join("defect.db"),
    ));
    c.defects = Defects::parse(&[name]).expect("known defect");
    start(c, Some(dir)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_flows_never_leave_initialized() {
    let h = with_defect("stuck-flows").await;
    let id = h.create("discovery", json!({}), json!({})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let f = h.get(&id).await;
    assert_eq!(f["status"], "initialized");
    assert_eq!(f["progress_percentage"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_phases_complete_without_output() {
    let h = with_defect("skipped-phases").await;
    let id = h
        .create(
            "discovery",
            json!({}),
            json!({"raw_data": sample_records()}),
        )
        .await;
    let f = h.wait_status(&id, "completed").await;
    let phases = f["phases"].as_array().expect("phases");
    for (i, p) in phases.iter().enumerate() {
        assert_eq!(p["status"], "completed");
        assert_eq!(p["output"].is_null(), i % 2 == 1, "phase {i}: {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_stops_updating_after_the_first_phase() {
    let h = with_defect("status-stops-updating").await;
    let id = h
        .create("planning", json!({}), json!({"raw_data": sample_records()}))
        .await;
    // The phases all run (their events are there) ...
    let start = std::time::Instant::now();
    loop {
        let events = h.events(&id).await;
        if completed_phases(&events).len() == 3 {
            break;
        }
        assert!(
            start.elapsed() < engine_support::WAIT,
            "phases never ran: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // ... but the flow claims to be running at one third.
    let f = h.get(&id).await;
    assert_eq!(f["status"], "running");
    assert_eq!(f["progress_percentage"], 33.3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_metrics_report_the_engine() {
    let h = on_sqlite().await;
    let id = h
        .create("finops", json!({}), json!({"raw_data": sample_records()}))
        .await;
    h.wait_status(&id, "completed").await;
    let ready: Value = h
        .client
        .get(h.url("/ready"))
        .send()
        .await
        .expect("ready")
        .json()
        .await
        .expect("ready body");
    let text = ready.to_string();
    assert!(text.contains("\"configured\":2"), "{text}");
    assert!(text.contains("\"alive\":2"), "{text}");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("flowgate_engine_phases_completed_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flowgate_engine_phase_duration_seconds_count{phase=\"cost_analysis\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("flowgate_engine_queue_depth"), "{metrics}");
}
