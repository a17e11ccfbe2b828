//! Hand-built run results with fixed dates, shared by the renderer tests.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use flowgate_reports::*;

pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, h, m, s)
        .single()
        .unwrap_or_default()
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default()
}

fn base(target: TargetInfo, fail_on: Option<Severity>) -> RunReport {
    let mut r = RunReport::new(target, GatingPolicy { fail_on }, at(14, 0, 0));
    r.tool.version = "0.1.0".into();
    r.finished_at = at(14, 2, 30);
    r.duration_ms = 150_000;
    r
}

pub fn scenario(
    id: &str,
    name: &str,
    category: &str,
    severity: Severity,
    outcome: Outcome,
) -> ScenarioResult {
    ScenarioResult {
        id: id.into(),
        name: name.into(),
        file: format!("scenarios/{id}.yaml"),
        category: category.into(),
        severity,
        level: Level::Must,
        requirement: Some(name.into()),
        tags: vec![],
        description: None,
        remediation: None,
        fails_when: None,
        outcome,
        duration_ms: 120,
        steps: vec![step("request", "request", Outcome::Passed, None)],
        measurements: vec![],
        waiver: None,
        cleanup: None,
    }
}

pub fn step(name: &str, kind: &str, outcome: Outcome, failure: Option<Failure>) -> StepResult {
    StepResult {
        name: name.into(),
        kind: kind.into(),
        outcome,
        duration_ms: 40,
        summary: None,
        failure,
        states_seen: vec![],
        exchanges: vec![],
        children: vec![],
    }
}

pub fn failure(message: &str, expected: &str, actual: &str) -> Failure {
    Failure {
        message: message.into(),
        expected: Some(expected.into()),
        actual: Some(actual.into()),
        response_excerpt: None,
        curl: None,
    }
}

pub fn measurement(
    metric: &str,
    value: f64,
    unit: &str,
    target: &str,
    passed: bool,
) -> Measurement {
    Measurement {
        metric: metric.into(),
        value,
        unit: unit.into(),
        target: target.into(),
        passed,
    }
}

/// A target that reports its system name and version, with no defects.
pub fn target(name: &str, base_url: &str, system: &str, version: &str) -> TargetInfo {
    TargetInfo {
        name: name.into(),
        base_url: base_url.into(),
        system: Some(system.into()),
        version: Some(version.into()),
        defects: vec![],
        database: None,
        follows_redirects: false,
        cleanup: None,
    }
}

/// The seed report's eight checks against the original system: 5/8 passed.
pub fn seed_run() -> RunReport {
    let mut r = base(
        target(
            "seed-original",
            "http://127.0.0.1:8000",
            "Master Flow Orchestrator",
            "2.1.0",
        ),
        None,
    );
    let mut health = scenario(
        "seed/backend_health",
        "Backend Health Check",
        "health",
        Severity::Critical,
        Outcome::Passed,
    );
    health.description = Some("Service and database are healthy".into());
    let mut creation = scenario(
        "seed/discovery_flow_creation",
        "Discovery Flow Creation",
        "flow_creation",
        Severity::High,
        Outcome::Passed,
    );
    creation.description =
        Some("Flows can be created successfully via Master Flow Orchestrator".into());

    let mut execution = scenario(
        "seed/discovery_flow_execution",
        "Discovery Flow Execution",
        "flow_execution",
        Severity::Critical,
        Outcome::Failed,
    );
    execution.remediation = Some(
        "Make sure the flow is kicked off after initialisation:\n- create the discovery_flows record when the flow is initialised\n- start phase execution and move the status to `running`".into(),
    );
    let mut poll = step(
        "wait for the flow to complete",
        "poll",
        Outcome::Failed,
        Some(Failure {
            message: "status stayed `initialized` for 30 s".into(),
            expected: Some("status in [completed]".into()),
            actual: Some("initialized".into()),
            response_excerpt: Some(
                r#"{"flow_id":"6f1c2a7e-0000-4000-8000-000000000001","status":"initialized","progress_percentage":0.0}"#
                    .into(),
            ),
            curl: Some(
                "curl -sS -X GET 'http://127.0.0.1:8000/api/v1/unified-discovery/flow/6f1c2a7e-0000-4000-8000-000000000001/status' -H 'Authorization: Bearer ***'"
                    .into(),
            ),
        }),
    );
    poll.states_seen = vec!["initialized".into()];
    execution.steps.push(poll);

    let mut perf_health = scenario(
        "seed/api_performance_health",
        "API Performance (health)",
        "performance",
        Severity::Moderate,
        Outcome::Passed,
    );
    perf_health.measurements.push(measurement(
        "GET /api/v1/health latency (p95)",
        30.4,
        "ms",
        "< 1000ms",
        true,
    ));
    let mut perf_init = scenario(
        "seed/api_performance_initialize",
        "API Performance (flow initialize)",
        "performance",
        Severity::Moderate,
        Outcome::Passed,
    );
    perf_init.measurements.push(measurement(
        "POST /api/v1/unified-discovery/flow/initialize latency (p95)",
        66.0,
        "ms",
        "< 1000ms",
        true,
    ));

    let mut errors = scenario(
        "seed/error_handling",
        "Error Handling",
        "error_handling",
        Severity::Moderate,
        Outcome::Failed,
    );
    errors.remediation = Some(
        "Answer invalid input with a 4xx application/problem+json body whose `detail` says what is wrong.".into(),
    );
    let mut invalid = step(
        "initialize with invalid raw_data",
        "request",
        Outcome::Failed,
        Some(failure(
            "expected status 422, got 200 with success=false and no description",
            "422 application/problem+json with a descriptive detail",
            r#"200 {"success":false,"flow_id":null,"error":null}"#,
        )),
    );
    if let Some(f) = invalid.failure.as_mut() {
        f.curl = Some("curl -sS -X POST 'http://127.0.0.1:8000/api/v1/unified-discovery/flow/initialize' -H 'Authorization: Bearer ***' -H 'Content-Type: application/json' --data '{\"raw_data\":\"not-a-list\"}'".into());
    }
    errors.steps.push(invalid);

    let mut concurrent = scenario(
        "seed/concurrent_flow_creation",
        "Concurrent Flow Creation",
        "concurrency",
        Severity::High,
        Outcome::Passed,
    );
    concurrent.description = Some("System handles concurrent requests properly".into());
    concurrent.measurements.push(measurement(
        "Concurrent flow creations succeeded",
        100.0,
        "%",
        "100%",
        true,
    ));

    let mut tenants = scenario(
        "seed/multi_tenant_isolation",
        "Multi-tenant Isolation",
        "tenant_isolation",
        Severity::Critical,
        Outcome::Failed,
    );
    tenants.remediation = Some(
        "Scope every query by the caller's client account and answer 404 for another tenant's flow.".into(),
    );
    let mut matrix = step(
        "cross-tenant access matrix",
        "matrix",
        Outcome::Failed,
        None,
    );
    let mut cell = step(
        "client_2 reads client_1's flow",
        "request",
        Outcome::Failed,
        Some(Failure {
            message: "client 2 read client 1's flow: expected status 404, got 200".into(),
            expected: Some("404".into()),
            actual: Some("200".into()),
            response_excerpt: Some(
                r#"{"flow_id":"6f1c2a7e-0000-4000-8000-000000000002","client_account_id":"11111111-1111-4111-8111-111111111111"}"#
                    .into(),
            ),
            curl: Some("curl -sS 'http://127.0.0.1:8000/api/v1/unified-discovery/flow/6f1c2a7e-0000-4000-8000-000000000002/status' -H 'Authorization: Bearer ***'".into()),
        }),
    );
    cell.exchanges.push(Exchange {
        method: "GET".into(),
        url: "http://127.0.0.1:8000/api/v1/unified-discovery/flow/6f1c2a7e-0000-4000-8000-000000000002/status".into(),
        status: Some(200),
        duration_ms: 12.5,
        identity: Some("client_2".into()),
        redirected_to: None,
    });
    matrix.children.push(step(
        "client_1 reads client_1's flow",
        "request",
        Outcome::Passed,
        None,
    ));
    matrix.children.push(cell);
    tenants.steps.push(matrix);

    r.scenarios = vec![
        tenants,
        health,
        creation,
        execution,
        perf_health,
        perf_init,
        errors,
        concurrent,
    ];
    r
}

/// Every check passes against the reference server.
pub fn passing_run() -> RunReport {
    let mut r = base(
        target(
            "reference",
            "http://127.0.0.1:18080",
            "flowgate-reference",
            "0.1.0",
        ),
        None,
    );
    let mut health = scenario(
        "health/health_endpoints",
        "Health endpoints answer",
        "health",
        Severity::Critical,
        Outcome::Passed,
    );
    health.description = Some("GET /health and /ready answer 200 with the database status".into());
    let create = scenario(
        "flow_creation/create_each_type",
        "Every flow type can be created",
        "flow_creation",
        Severity::High,
        Outcome::Passed,
    );
    let exec = scenario(
        "flow_execution/discovery_completes",
        "Discovery flow runs to completion",
        "flow_execution",
        Severity::Critical,
        Outcome::Passed,
    );
    let errors = scenario(
        "error_handling/problem_json",
        "Invalid input gets problem+json",
        "error_handling",
        Severity::High,
        Outcome::Passed,
    );
    let tenants = scenario(
        "tenant_isolation/cross_tenant_matrix",
        "Cross-tenant access matrix",
        "tenant_isolation",
        Severity::Critical,
        Outcome::Passed,
    );
    let conc = scenario(
        "concurrency/parallel_creation",
        "Parallel creation keeps every flow",
        "concurrency",
        Severity::High,
        Outcome::Passed,
    );
    let mut perf = scenario(
        "performance/api_latency",
        "API latency",
        "performance",
        Severity::Moderate,
        Outcome::Passed,
    );
    perf.measurements.push(measurement(
        "POST /api/v1/flows latency (p95)",
        8.2,
        "ms",
        "< 100ms",
        true,
    ));
    perf.measurements.push(measurement(
        "GET /api/v1/flows/{id} latency (p95)",
        3.0,
        "ms",
        "< 50ms",
        true,
    ));
    r.scenarios = vec![health, create, exec, errors, tenants, conc, perf];
    r
}

/// Waivers (current and expired), an infrastructure error, skipped checks, a load phase
/// with time series and thresholds, a self-check, and text that needs escaping.
pub fn complex_run() -> RunReport {
    let mut r = base(
        TargetInfo {
            defects: vec!["stuck-initialized".into()],
            ..target(
                "reference",
                "http://127.0.0.1:18080",
                "flowgate-reference",
                "0.1.0",
            )
        },
        Some(Severity::High),
    );
    let health = scenario(
        "health/health_endpoints",
        "Health endpoints answer",
        "health",
        Severity::Critical,
        Outcome::Passed,
    );
    let mut exec = scenario(
        "flow_execution/discovery_completes",
        "Discovery flow runs to completion",
        "flow_execution",
        Severity::Critical,
        Outcome::Failed,
    );
    exec.remediation = Some("Start phase execution after initialisation.".into());
    let mut poll = step(
        "wait for completion",
        "poll",
        Outcome::Failed,
        Some(failure(
            "status stayed `initialized` for 30 s",
            "completed",
            "initialized",
        )),
    );
    poll.states_seen = vec!["initialized".into()];
    exec.steps.push(poll);

    let mut errors = scenario(
        "error_handling/problem_json",
        "Invalid input gets problem+json",
        "error_handling",
        Severity::High,
        Outcome::Failed,
    );
    errors.remediation = Some("Return 422 problem+json with per-field errors.".into());
    errors.steps.push(step(
        "post invalid body",
        "request",
        Outcome::Failed,
        Some(failure("expected status 422, got 200", "422", "200")),
    ));

    let mut escaping = scenario(
        "error_handling/odd_text",
        "Pipes | and <tags> & `ticks` *stars*",
        "error_handling",
        Severity::Moderate,
        Outcome::Failed,
    );
    escaping.steps.push(step(
        "send <script>",
        "request",
        Outcome::Failed,
        Some(Failure {
            message: "body contained ]]> and <script>alert(1)</script>".into(),
            expected: Some("no echo of \"<script>\"".into()),
            actual: Some("echoed `<script>` | twice".into()),
            response_excerpt: Some(
                "<html><script>alert(1)</script>]]>\u{1b}[31m red & 'quoted'</html>".into(),
            ),
            curl: Some("curl -sS 'http://127.0.0.1:18080/api/v1/flows?q=<x>&y=1'".into()),
        }),
    ));

    let mut conc = scenario(
        "concurrency/parallel_creation",
        "Parallel creation keeps every flow",
        "concurrency",
        Severity::High,
        Outcome::Error,
    );
    conc.steps = vec![step(
        "create 20 flows in parallel",
        "parallel",
        Outcome::Error,
        Some(Failure {
            message: "connection refused (http://127.0.0.1:18080/api/v1/flows)".into(),
            expected: None,
            actual: None,
            response_excerpt: None,
            curl: None,
        }),
    )];

    let mut skipped1 = scenario(
        "flow_execution/simulated_fault_retry",
        "Failing phase is retried with backoff",
        "flow_execution",
        Severity::High,
        Outcome::Skipped,
    );
    skipped1.steps = vec![{
        let mut s = step("requires", "setup", Outcome::Skipped, None);
        s.summary = Some("target profile lacks capability `simulated_faults`".into());
        s
    }];
    let mut skipped2 = scenario(
        "tenant_isolation/engagement_header",
        "Foreign engagement header is rejected",
        "tenant_isolation",
        Severity::Critical,
        Outcome::Skipped,
    );
    skipped2.steps = vec![];

    let mut perf = scenario(
        "performance/api_latency",
        "API latency",
        "performance",
        Severity::Moderate,
        Outcome::Passed,
    );
    perf.measurements.push(measurement(
        "POST /api/v1/flows latency (p95)",
        8.2,
        "ms",
        "< 100ms",
        true,
    ));

    r.scenarios = vec![
        health, exec, errors, escaping, conc, skipped1, skipped2, perf,
    ];

    // A load phase of 30 one-second windows, values from a fixed formula.
    let timeseries: Vec<TimePoint> = (0..30)
        .map(|i| {
            let t = f64::from(i);
            TimePoint {
                t_s: t + 1.0,
                rps: 180.0 + 20.0 * ((i % 5) as f64),
                p50_ms: 11.0 + (i % 7) as f64,
                p95_ms: 38.0 + 4.0 * ((i % 6) as f64) + if i == 21 { 90.0 } else { 0.0 },
                errors: if i == 21 || i == 22 { 3 } else { 0 },
                requests: None,
                histogram: None,
            }
        })
        .collect();
    r.load.push(LoadResult {
        id: "load/sustained_creation".into(),
        name: "Sustained flow creation".into(),
        severity: Severity::High,
        level: Level::Should,
        remediation: Some("Find the create path's slow query under load.".into()),
        fails_when: Some("Creates fail or slow down under sustained load.".into()),
        shard: None,
        outcome: Outcome::Failed,
        users: 20,
        duration_ms: 30_000,
        requests: vec![
            RequestStats {
                name: "all".into(),
                count: 6000,
                failures: 6,
                mean_ms: 16.2,
                p50_ms: 13.0,
                p95_ms: 46.0,
                p99_ms: 131.0,
                max_ms: 212.5,
                rps: 200.0,
                histogram: None,
            },
            RequestStats {
                name: "create flow".into(),
                count: 3000,
                failures: 6,
                mean_ms: 21.0,
                p50_ms: 17.0,
                p95_ms: 52.0,
                p99_ms: 140.0,
                max_ms: 212.5,
                rps: 100.0,
                histogram: None,
            },
            RequestStats {
                name: "GET /api/v1/flows/{id}".into(),
                count: 3000,
                failures: 0,
                mean_ms: 11.4,
                p50_ms: 9.0,
                p95_ms: 30.0,
                p99_ms: 61.0,
                max_ms: 98.0,
                rps: 100.0,
                histogram: None,
            },
        ],
        thresholds: vec![
            ThresholdResult {
                expression: "p95 < 250ms".into(),
                request: None,
                observed: 46.0,
                unit: "ms".into(),
                passed: true,
                no_samples: false,
            },
            ThresholdResult {
                expression: "error_rate < 0.05%".into(),
                request: Some("create flow".into()),
                observed: 0.2,
                unit: "%".into(),
                passed: false,
                no_samples: false,
            },
            ThresholdResult {
                expression: "p95 < 100ms".into(),
                request: Some("delete flow".into()),
                observed: 0.0,
                unit: "ms".into(),
                passed: false,
                no_samples: true,
            },
        ],
        timeseries,
        flows: Some(FlowCompletion {
            created: 3000,
            completed: 2994,
            failed: 0,
            timed_out: 6,
        }),
        notes: vec!["p95 drift between the first and last 10 s: +6.0%".into()],
        smoke: None,
    });

    r.selfcheck = Some(SelfCheck {
        defects: vec![
            DefectDetection {
                defect: "stuck-initialized".into(),
                description: "flows never leave `initialized`".into(),
                caught_by: vec!["flow_execution/discovery_completes".into()],
                explore: None,
            },
            DefectDetection {
                defect: "tenant-leak".into(),
                description: "X-Client-Account-ID header overrides the key's tenant".into(),
                caught_by: vec![
                    "tenant_isolation/cross_tenant_matrix".into(),
                    "tenant_isolation/engagement_header".into(),
                ],
                explore: None,
            },
            DefectDetection {
                defect: "error-no-detail".into(),
                description: "invalid input answers 200 success=false".into(),
                caught_by: vec!["error_handling/problem_json".into()],
                explore: None,
            },
            DefectDetection {
                defect: "slow-list".into(),
                description: "listing flows sleeps 300 ms".into(),
                caught_by: vec![],
                explore: None,
            },
        ],
        false_alarms: vec![],
        quick: false,
    });

    let waivers = Waivers {
        waivers: vec![
            WaiverEntry {
                scenario: "flow_execution/discovery_completes".into(),
                owner: "alice@example.com".into(),
                reason: "engine rewrite lands in 2.2 (JIRA-101)".into(),
                expires: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default(),
            },
            WaiverEntry {
                scenario: "Invalid input gets problem+json".into(),
                owner: "bob@example.com".into(),
                reason: "accepted for the October release".into(),
                expires: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default(),
            },
        ],
    };
    let warnings = apply_waivers(&mut r, &waivers, today());
    assert_eq!(warnings.len(), 1, "{warnings:?}"); // the expired one
    r
}
