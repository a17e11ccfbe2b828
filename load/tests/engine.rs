//! Load scenarios (YAML, through the harness's loader) run on goose against a small axum
//! app: thresholds pass and fail when they should, flow completion counts completed and
//! timed-out polls, results fill the LoadResult. Each run is bounded: a few users, ≤ 3 s.

mod common;

use common::*;
use flowgate_reports::Outcome;

fn create_and_poll(head: &str, timeout: &str, thresholds: &str) -> String {
    scenario(&format!(
        "{head}{}  thresholds: {thresholds}\n",
        CREATE_AND_POLL.replace("TIMEOUT", timeout)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_endpoint_passes_generous_thresholds_and_fills_the_result() {
    let (base, state) = serve(0).await;
    let text = scenario(
        r#"  users: 4
  increase_rate: 100
  duration: 2s
  identities: [tenant_a, tenant_b]
  windows: 500ms
  transactions:
    - name: reads
      steps:
        - name: get fast
          request: { method: GET, path: /fast }
          expect: { status: 200, json: { "$.ok": true } }
  thresholds:
    - "p95 < 2000ms"
    - "get fast: p99 < 5s"
    - "error_rate < 1%"
    - "requests >= 10"
    - "rps > 1"
    - "max < 10s"
    - "mean < 2000ms"
    - "p50 <= 2000ms"
    - "p90 < 2000ms"
"#,
    );
    let result = run(&text, &base).await;
    assert_eq!(result.outcome, Outcome::Passed, "{result:#?}");
    assert_eq!(result.outcome, Outcome::Passed);
    assert_eq!(result.users, 4);
    let names: Vec<&str> = result.requests.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["get fast", "all"]);
    let all = &result.requests[1];
    assert!(all.count >= 10, "{all:?}");
    assert_eq!(all.failures, 0);
    assert_eq!(all.count, result.requests[0].count);
    assert!(all.p50_ms <= all.p95_ms && all.p95_ms <= all.p99_ms && all.p99_ms <= all.max_ms);
    assert!(all.rps > 0.0);
    assert!(
        result.thresholds.iter().all(|t| t.passed),
        "{:#?}",
        result.thresholds
    );
    assert!(result.timeseries.len() >= 2, "{:?}", result.timeseries);
    assert!(result.timeseries.iter().all(|p| p.errors == 0));
    assert!(result.timeseries.iter().any(|p| p.rps > 0.0));
    assert!(result.flows.is_none());
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("server memory not exposed")),
        "{:?}",
        result.notes
    );
    assert!(result.notes.iter().any(|n| n.starts_with("p95 drift")));
    // Users were spread over both identities.
    let seen = state.seen_auth.lock().unwrap().clone();
    assert!(
        seen.contains_key("Bearer a") && seen.contains_key("Bearer b"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_endpoint_fails_a_tight_p95() {
    let (base, _) = serve(0).await;
    let text = scenario(
        r#"  users: 2
  duration: 2s
  transactions:
    - name: reads
      steps:
        - name: get slow
          request: { method: GET, path: /slow }
          expect: { status: 200 }
  thresholds: ["p95 < 20ms", "get slow: max < 20ms", "error_rate < 1%"]
"#,
    );
    let result = run(&text, &base).await;
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert_eq!(result.outcome, Outcome::Failed);
    let p95 = &result.thresholds[0];
    assert!(!p95.passed);
    assert!(p95.observed >= 50.0, "{p95:?}");
    assert_eq!(p95.unit, "ms");
    assert!(!result.thresholds[1].passed);
    assert_eq!(result.thresholds[1].request.as_deref(), Some("get slow"));
    assert!(result.thresholds[2].passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_expectations_count_as_errors() {
    let (base, _) = serve(0).await;
    // /fast answers 200; the step expects 201, so every request fails.
    let text = scenario(
        r#"  users: 2
  iterations: 5
  transactions:
    - name: reads
      steps:
        - name: wrong status
          request: { method: GET, path: /fast }
          expect: { status: 201 }
  thresholds: ["error_rate < 1%", "requests >= 10"]
"#,
    );
    let result = run(&text, &base).await;
    let all = result.requests.last().unwrap();
    assert_eq!((all.count, all.failures), (10, 10), "{result:#?}");
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(!result.thresholds[0].passed);
    assert_eq!(result.thresholds[0].observed, 100.0);
    assert!(result.thresholds[1].passed);
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("expected status 201, got 200")),
        "{:?}",
        result.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expected_404_is_a_success() {
    let (base, _) = serve(0).await;
    let text = scenario(
        r#"  users: 2
  iterations: 3
  transactions:
    - name: reads
      steps:
        - name: missing
          request: { method: GET, path: /missing }
          expect: { status: 404 }
  thresholds: ["error_rate < 1%"]
"#,
    );
    let result = run(&text, &base).await;
    let all = result.requests.last().unwrap();
    assert_eq!((all.count, all.failures), (6, 0), "{result:#?}");
    assert_eq!(result.outcome, Outcome::Passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_that_complete_after_three_polls_reach_full_completion() {
    let (base, _) = serve(3).await;
    let text = create_and_poll(
        "  users: 4\n  iterations: 2\n",
        "10s",
        r#"["flow_completion_rate >= 100%", "wait for completion: flow_completion_rate >= 100%", "create flow: error_rate < 1%", "error_rate < 1%"]"#,
    );
    let result = run(&text, &base).await;
    let flows = result.flows.clone().unwrap();
    assert_eq!(
        (flows.created, flows.completed, flows.timed_out),
        (8, 8, 0),
        "{result:#?}"
    );
    assert_eq!(result.outcome, Outcome::Passed, "{:#?}", result.thresholds);
    let poll = result
        .requests
        .iter()
        .find(|r| r.name == "wait for completion")
        .unwrap();
    assert_eq!(poll.count, 24, "three polls per flow");
    let create = result
        .requests
        .iter()
        .find(|r| r.name == "create flow")
        .unwrap();
    assert_eq!(create.count, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_that_never_complete_time_out() {
    let (base, _) = serve(0).await;
    let text = create_and_poll(
        "  users: 2\n  iterations: 1\n",
        "300ms",
        r#"["flow_completion_rate >= 100%", "error_rate < 1%"]"#,
    );
    let result = run(&text, &base).await;
    let flows = result.flows.clone().unwrap();
    assert_eq!(
        (flows.created, flows.completed, flows.timed_out),
        (2, 0, 2),
        "{result:#?}"
    );
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(!result.thresholds[0].passed);
    assert_eq!(result.thresholds[0].observed, 0.0);
    // The poll requests themselves answered 200: not request errors.
    assert!(result.thresholds[1].passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_is_an_error_not_a_failure() {
    // Bind then drop a listener: nothing listens on that port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let text = scenario(
        r#"  users: 2
  iterations: 2
  transactions:
    - name: reads
      steps:
        - name: get fast
          request: { method: GET, path: /fast }
          expect: { status: 200 }
  thresholds: ["error_rate < 1%"]
"#,
    );
    let result = run(&text, &format!("http://127.0.0.1:{port}")).await;
    assert_eq!(result.outcome, Outcome::Error, "{result:#?}");
    assert_eq!(result.outcome, Outcome::Error);
    assert!(
        result.notes[0].contains("never answered"),
        "{:?}",
        result.notes
    );
}

#[test]
fn an_unknown_metric_or_request_is_rejected_before_anything_runs() {
    let bad_metric = scenario(
        r#"  users: 1
  iterations: 1
  transactions:
    - name: reads
      steps:
        - name: get fast
          request: { method: GET, path: /fast }
  thresholds: ["p95 < 10ms", "latency_p42 < 10ms"]
"#,
    );
    let err = load_scenario(&bad_metric).unwrap_err();
    assert!(err.contains("latency_p42"), "{err}");
    let bad_request = bad_metric.replace("latency_p42 < 10ms", "no such step: p95 < 10ms");
    let err = load_scenario(&bad_request).unwrap_err();
    assert!(err.contains("no such step"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_renders_in_every_report_format() {
    let (base, _) = serve(2).await;
    let text = create_and_poll(
        "  users: 2\n  iterations: 2\n",
        "10s",
        r#"["p95 < 5s", "flow_completion_rate >= 100%"]"#,
    );
    let result = run(&text, &base).await;
    let json = serde_json::to_string(&result).unwrap();
    let back: flowgate_reports::LoadResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, result);
    let text = flowgate_load::render_summary(&result);
    assert!(text.contains("create flow"), "{text}");
    assert!(text.contains("PASS  p95 < 5s"), "{text}");
    assert!(text.contains("completion 100.0%"), "{text}");
}
