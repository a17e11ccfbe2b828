//! The execution engine end to end, through the HTTP API, on PostgreSQL (`flowgate_testkit`,
//! a fresh database per test) and on a SQLite file: every flow type runs to completion
//! with outputs that follow from its input; approvals wait; pause, resume, cancel; retries
//! of transient faults; permanent faults; retry after failure.

#[macro_use]
mod engine_support;

use engine_support::{completed_phases, count_kind, sample_records, Harness};
use flowgate_server::catalogue::FLOW_TYPES;
use serde_json::{json, Value};
use std::time::Duration;

fn output<'a>(flow: &'a Value, phase: &str) -> &'a Value {
    flow["phases"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == phase))
        .map(|p| &p["output"])
        .unwrap_or(&Value::Null)
}

on_both!(every_flow_type_runs_to_completion);
async fn every_flow_type_runs_to_completion(h: &Harness) {
    let data = json!({"raw_data": sample_records()});
    let mut ids = Vec::new();
    for t in FLOW_TYPES {
        ids.push((t, h.create(t.flow_type, json!({}), data.clone()).await));
    }
    for (t, id) in &ids {
        // Approval phases hold the flow until a person answers.
        if let Some(gate) = t.phases.iter().position(|p| p.needs_input) {
            let f = h.wait_status(id, "waiting_for_input").await;
            assert_eq!(f["current_phase"], t.phases[gate].name, "{}", t.flow_type);
            assert_eq!(f["phases"][gate]["status"], "waiting_for_input");
            for i in 0..gate {
                assert_eq!(f["phases"][i]["status"], "completed");
            }
            // Still waiting a moment later: nothing runs the gate without input.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let f = h.get(id).await;
            assert_eq!(f["status"], "waiting_for_input");
            assert!(f["phases"][gate]["output"].is_null());
            let (s, body) = h
                .act(
                    id,
                    "input",
                    Some(json!({"approved": true, "comment": "looks good"})),
                )
                .await;
            assert_eq!(s, 200, "{body}");
        }
        let f = h.wait_status(id, "completed").await;
        assert_eq!(f["progress_percentage"], 100.0);
        assert!(f["current_phase"].is_null());
        assert!(f["completed_at"].is_string());
        for p in f["phases"].as_array().expect("phases") {
            assert_eq!(p["status"], "completed", "{}: {p}", t.flow_type);
            assert_eq!(p["attempts"], 1);
            let out = p["output"].as_object().expect("object output");
            assert!(
                !out.is_empty(),
                "{}: empty output of {}",
                t.flow_type,
                p["name"]
            );
        }
        let events = h.events(id).await;
        let expected: Vec<&str> = t.phases.iter().map(|p| p.name).collect();
        assert_eq!(completed_phases(&events), expected, "{}", t.flow_type);
        let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
        assert_eq!(events.last().expect("events")["to_status"], "completed");
        check_outputs(t.flow_type, &f);
    }
}

/// Outputs follow from the seven sample records (six applications once "intranet " and
/// "Intranet" are merged).
fn check_outputs(flow_type: &str, f: &Value) {
    match flow_type {
        "discovery" => {
            assert_eq!(output(f, "data_import")["records_received"], 7);
            assert_eq!(
                output(f, "field_mapping")["mappings"]["application_name"],
                "name"
            );
            assert_eq!(
                output(f, "data_cleansing")["duplicates_removed"],
                json!(["Intranet"])
            );
            assert_eq!(output(f, "asset_creation")["assets_created"], 6);
            assert_eq!(
                output(f, "asset_inventory")["by_criticality"]["critical"],
                2
            );
            let d = output(f, "dependency_analysis");
            assert_eq!(d["cycles"], json!([["Auth", "Ledger"]]));
            assert_eq!(d["unknown_references"][0]["reference"], "Mainframe Batch");
        }
        "assessment" => {
            let r = &output(f, "recommendation_generation")["recommendations"];
            assert_eq!(r.as_array().map(Vec::len), Some(6));
            assert_eq!(r[4]["name"], "Ledger");
            assert_eq!(r[4]["strategy"], "refactor");
            assert_eq!(r[5]["strategy"], "retire");
        }
        "planning" => {
            assert_eq!(output(f, "wave_planning")["wave_count"], 3);
            assert_eq!(
                output(f, "wave_planning")["waves"][2]["applications"],
                json!(["Web Portal"])
            );
            assert!(output(f, "timeline_optimization")["total_duration_days"].as_u64() > Some(0));
        }
        "execution" => {
            assert_eq!(
                output(f, "pre_migration_validation")["applications_validated"],
                6
            );
            let v = output(f, "post_migration_validation");
            assert_eq!(v["approved"], true);
            assert_eq!(v["comment"], "looks good");
        }
        "modernize" => {
            assert_eq!(
                output(f, "modernization_assessment")["applications"]
                    .as_array()
                    .map(Vec::len),
                Some(6)
            );
        }
        "finops" => {
            assert_eq!(output(f, "cost_analysis")["total_monthly_cost"], 4150.0);
            assert_eq!(output(f, "budget_planning")["current_monthly"], 4150.0);
        }
        "observability" => {
            assert_eq!(
                output(f, "monitoring_setup")["applications"]
                    .as_array()
                    .map(Vec::len),
                Some(6)
            );
        }
        "decommission" => {
            assert_eq!(output(f, "decommission_planning")["system_count"], 6);
            assert_eq!(
                output(f, "system_shutdown")["shutdown_order"][0]["name"],
                "Web Portal"
            );
        }
        other => panic!("unexpected flow type {other}"),
    }
}

on_both!(empty_input_runs_with_zero_assets);
async fn empty_input_runs_with_zero_assets(h: &Harness) {
    let id = h.create("discovery", json!({}), json!({})).await;
    let f = h.wait_status(&id, "completed").await;
    assert_eq!(output(&f, "data_import")["records_received"], 0);
    assert_eq!(output(&f, "asset_inventory")["total_assets"], 0);
}

on_both!(malformed_raw_data_fails_data_import_with_the_reason);
async fn malformed_raw_data_fails_data_import_with_the_reason(h: &Harness) {
    let id = h
        .create(
            "discovery",
            json!({}),
            json!({"raw_data": [{"name": "a"}, 42]}),
        )
        .await;
    let f = h.wait_status(&id, "failed").await;
    assert_eq!(f["error"]["phase"], "data_import");
    assert_eq!(f["error"]["code"], "invalid_raw_data");
    let msg = f["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("raw_data[1]"), "{msg}");
    assert_eq!(f["phases"][0]["status"], "failed");
    assert_eq!(f["phases"][1]["status"], "pending");
}

on_both!(pause_mid_phase_holds_the_flow_until_resume);
async fn pause_mid_phase_holds_the_flow_until_resume(h: &Harness) {
    let id = h
        .create(
            "discovery",
            json!({"simulate": {"field_mapping": {"delay_ms": 400}}}),
            json!({"raw_data": sample_records()}),
        )
        .await;
    h.wait_until(&id, "field_mapping running", |f| {
        f["phases"][1]["status"] == "running"
    })
    .await;
    let (s, body) = h.act(&id, "pause", None).await;
    assert_eq!(s, 200, "{body}");
    // Well past the phase's delay: its result must not have been recorded.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let f = h.get(&id).await;
    assert_eq!(f["status"], "paused");
    assert_eq!(f["phases"][1]["status"], "pending");
    assert!(f["phases"][1]["output"].is_null());
    assert_eq!(f["phases"][2]["status"], "pending");
    let (s, body) = h.act(&id, "resume", None).await;
    assert_eq!(s, 200, "{body}");
    let f = h.wait_status(&id, "completed").await;
    assert_eq!(f["phases"][1]["status"], "completed");
    let events = h.events(&id).await;
    assert_eq!(count_kind(&events, "phase_completed", "field_mapping"), 1);
    assert_eq!(count_kind(&events, "phase_started", "field_mapping"), 2);
}

on_both!(cancel_mid_phase_stops_the_flow);
async fn cancel_mid_phase_stops_the_flow(h: &Harness) {
    let id = h
        .create(
            "planning",
            json!({"simulate": {"resource_planning": {"delay_ms": 400}}}),
            json!({"raw_data": sample_records()}),
        )
        .await;
    h.wait_until(&id, "resource_planning running", |f| {
        f["phases"][1]["status"] == "running"
    })
    .await;
    let (s, body) = h.act(&id, "cancel", None).await;
    assert_eq!(s, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let f = h.get(&id).await;
    assert_eq!(f["status"], "cancelled");
    assert!(f["phases"][1]["output"].is_null());
    assert_ne!(f["phases"][2]["status"], "completed");
    let (s, _) = h.act(&id, "resume", None).await;
    assert_eq!(s, 409);
    assert_eq!(
        count_kind(&h.events(&id).await, "phase_completed", "resource_planning"),
        0
    );
}

on_both!(transient_faults_are_retried_then_the_flow_completes);
async fn transient_faults_are_retried_then_the_flow_completes(h: &Harness) {
    let id = h
        .create(
            "finops",
            json!({"simulate": {"optimization_identification": {"fail_transient": 2}}}),
            json!({"raw_data": sample_records()}),
        )
        .await;
    let f = h.wait_status(&id, "completed").await;
    assert_eq!(f["phases"][1]["attempts"], 3);
    let events = h.events(&id).await;
    assert_eq!(
        count_kind(
            &events,
            "phase_retry_scheduled",
            "optimization_identification"
        ),
        2
    );
    assert_eq!(
        count_kind(&events, "phase_completed", "optimization_identification"),
        1
    );
    let retry = events
        .iter()
        .find(|e| e["kind"] == "phase_retry_scheduled")
        .expect("retry event");
    assert_eq!(retry["detail"]["code"], "simulated_transient_fault");
    assert_eq!(retry["detail"]["delay_ms"], 10);
}

on_both!(exhausted_retries_fail_the_flow);
async fn exhausted_retries_fail_the_flow(h: &Harness) {
    let id = h
        .create(
            "observability",
            json!({"simulate": {"monitoring_setup": {"fail_transient": 10}}}),
            json!({}),
        )
        .await;
    let f = h.wait_status(&id, "failed").await;
    assert_eq!(f["error"]["phase"], "monitoring_setup");
    assert_eq!(f["error"]["code"], "simulated_transient_fault");
    let msg = f["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("gave up after 3 attempts"), "{msg}");
    assert_eq!(f["phases"][0]["attempts"], 3);
}

on_both!(permanent_fault_fails_and_retry_completes);
async fn permanent_fault_fails_and_retry_completes(h: &Harness) {
    let id = h
        .create(
            "assessment",
            json!({"simulate": {"risk_assessment": {"fail_permanent": true}}}),
            json!({"raw_data": sample_records()}),
        )
        .await;
    let f = h.wait_status(&id, "failed").await;
    assert_eq!(
        f["error"],
        json!({"phase": "risk_assessment", "code": "simulated_permanent_fault",
               "message": "simulated permanent fault in phase risk_assessment"})
    );
    assert_eq!(f["phases"][2]["status"], "failed");
    assert_eq!(
        f["phases"][2]["attempts"], 1,
        "permanent errors are not retried"
    );
    assert_eq!(f["phases"][3]["status"], "pending");
    let (s, body) = h.act(&id, "retry", None).await;
    assert_eq!(s, 200, "{body}");
    let f = h.wait_status(&id, "completed").await;
    assert!(f["error"].is_null());
    let events = h.events(&id).await;
    assert_eq!(
        count_kind(&events, "phase_completed", "readiness_assessment"),
        1
    );
    assert_eq!(count_kind(&events, "phase_completed", "risk_assessment"), 1);
    assert_eq!(count_kind(&events, "phase_failed", "risk_assessment"), 1);
}

on_both!(rejected_approval_fails_the_flow);
async fn rejected_approval_fails_the_flow(h: &Harness) {
    let id = h.create("decommission", json!({}), json!({})).await;
    h.wait_status(&id, "waiting_for_input").await;
    let (s, body) = h
        .act(
            &id,
            "input",
            Some(json!({"approved": false, "comment": "still in use"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let f = h.get(&id).await;
    assert_eq!(f["status"], "failed");
    assert_eq!(f["phases"][1]["status"], "pending");
}

/// A flow created through a process that runs no workers is started by another process's
/// workers as soon as the API announces it (`store::wakeups`: inserts fire no trigger), not
/// at their next poll, which is an hour away here. PostgreSQL only: SQLite has one process.
#[tokio::test]
async fn a_new_flow_wakes_the_workers_of_another_process() {
    use flowgate_server::engine::{self, EngineConfig};
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_engine").await else {
        return;
    };
    let pool = db.pool().await;
    let mut api_only = flowgate_server::ServerConfig::with_pg_pool(pool.clone());
    api_only.workers = 0;
    let h = engine_support::start(api_only, None).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let _other_process = engine::start(
        flowgate_server::db::Db::from_pg_pool(pool.clone())
            .await
            .expect("db"),
        EngineConfig {
            workers: 1,
            idle_poll: Duration::from_secs(3600),
            ..EngineConfig::default()
        },
        &flowgate_server::defects::Defects::default(),
        shutdown.clone(),
        flowgate_server::phases::HandlerRegistry::builtin(),
    );
    // Its listener is connected and its worker has looked once and found nothing (were the
    // create to come first, the worker would find it at that first look and the test
    // would pass without a wake-up: it can only pass wrongly, never fail wrongly).
    let start = std::time::Instant::now();
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_one(&pool)
        .await
        .expect("pg_stat_activity");
        if listening > 0 {
            break;
        }
        assert!(
            start.elapsed() < engine_support::WAIT,
            "the engine never listened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let id = h
        .create(
            "discovery",
            json!({}),
            json!({"raw_data": sample_records()}),
        )
        .await;
    h.wait_until(&id, "a phase started by the other process", |f| {
        f["status"] != "initialized"
    })
    .await;
    shutdown.cancel();
}
