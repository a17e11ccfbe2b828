//! The runner against a real HTTP server: every assertion, capture, poll, parallel,
//! for_each, use and matrix behaviour, each with a case that passes and one that fails.

mod common;

use common::{run_files, run_files_with_profile, run_one, scenario};
use flowgate_reports::{Outcome, ScenarioResult};

fn failure_message(r: &ScenarioResult) -> String {
    fn find(s: &flowgate_reports::StepResult) -> Option<String> {
        s.children
            .iter()
            .find_map(find)
            .or_else(|| s.failure.as_ref().map(|f| f.message.clone()))
    }
    r.steps.iter().find_map(find).unwrap_or_default()
}

async fn expect_outcome(steps: &str, outcome: Outcome) -> ScenarioResult {
    let r = run_one(&scenario(steps)).await;
    assert_eq!(
        r.outcome, outcome,
        "steps:\n{steps}\nresult: {:#?}",
        r.steps
    );
    r
}

/// Each assertion operator: (assertion on `$.json` of /echo with body {"s":"abc","n":5,"a":[1,2],"o":{"k":1},"z":null}), passing and failing.
#[tokio::test]
async fn every_assertion_operator_passes_and_fails() {
    let cases: &[(&str, &str)] = &[
        ("\"$.json.s\": abc", "\"$.json.s\": abd"),
        (
            "\"$.json.s\": { equals: abc }",
            "\"$.json.s\": { equals: x }",
        ),
        (
            "\"$.json.s\": { not_equals: x }",
            "\"$.json.s\": { not_equals: abc }",
        ),
        ("\"$.json.s\": [x, abc]", "\"$.json.s\": [x, y]"),
        (
            "\"$.json.s\": { one_of: [abc] }",
            "\"$.json.s\": { one_of: [x] }",
        ),
        (
            "\"$.json.s\": { not_one_of: [x] }",
            "\"$.json.s\": { not_one_of: [abc] }",
        ),
        (
            "\"$.json.s\": { contains: b }",
            "\"$.json.s\": { contains: q }",
        ),
        (
            "\"$.json.a\": { contains: 2 }",
            "\"$.json.a\": { contains: 3 }",
        ),
        (
            "\"$.json.o\": { contains: k }",
            "\"$.json.o\": { contains: j }",
        ),
        (
            "\"$.json.a\": { not_contains: [3, 4] }",
            "\"$.json.a\": { not_contains: [4, 1] }",
        ),
        (
            "\"$.json.s\": { matches: \"^a.c$\" }",
            "\"$.json.s\": { matches: \"^b\" }",
        ),
        (
            "\"$.json.s\": { exists: true }",
            "\"$.json.missing\": { exists: true }",
        ),
        (
            "\"$.json.missing\": { exists: false }",
            "\"$.json.s\": { exists: false }",
        ),
        (
            "\"$.json.n\": { type: integer }",
            "\"$.json.n\": { type: string }",
        ),
        (
            "\"$.json.z\": { type: \"null\" }",
            "\"$.json.o\": { type: array }",
        ),
        ("\"$.json.a\": { length: 2 }", "\"$.json.a\": { length: 3 }"),
        (
            "\"$.json.s\": { min_length: 3 }",
            "\"$.json.s\": { min_length: 4 }",
        ),
        (
            "\"$.json.s\": { max_length: 3 }",
            "\"$.json.s\": { max_length: 2 }",
        ),
        ("\"$.json.n\": { gt: 4 }", "\"$.json.n\": { gt: 5 }"),
        ("\"$.json.n\": { gte: 5 }", "\"$.json.n\": { gte: 6 }"),
        ("\"$.json.n\": { lt: 6 }", "\"$.json.n\": { lt: 5 }"),
        ("\"$.json.n\": { lte: 5 }", "\"$.json.n\": { lte: 4 }"),
        (
            "\"$.json.s\": { not_empty: true }",
            "\"$.json.z\": { not_empty: true }",
        ),
        (
            "\"$.json.a[*]\": { length: 2 }",
            "\"$.json.a[*]\": { length: 1 }",
        ),
        (
            "\"$.json.n\": \"{{ five }}\"",
            "\"$.json.s\": \"{{ five }}\"",
        ),
    ];
    let mut yaml =
        String::from("name: t\ncategory: health\nseverity: high\nvariables: { five: 5 }\nsteps:\n");
    let mut fail_files = Vec::new();
    for (i, (pass, fail)) in cases.iter().enumerate() {
        let step = |a: &str| {
            format!(
                "  - name: case {i}\n    request: {{ method: POST, path: /echo, json: {{ s: abc, n: 5, a: [1, 2], o: {{ k: 1 }}, z: null }} }}\n    expect:\n      json:\n        {a}\n"
            )
        };
        yaml.push_str(&step(pass));
        fail_files.push((format!("f{i:02}.yaml"), format!("name: f{i}\ncategory: health\nseverity: high\nvariables: {{ five: 5 }}\nsteps:\n{}", step(fail))));
    }
    let r = run_one(&yaml).await;
    assert_eq!(
        r.outcome,
        Outcome::Passed,
        "{:#?}",
        r.steps
            .iter()
            .filter(|s| s.outcome != Outcome::Passed)
            .collect::<Vec<_>>()
    );
    let files: Vec<(&str, &str)> = fail_files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let report = run_files(&files).await;
    for (s, (_, fail)) in report.scenarios.iter().zip(cases) {
        assert_eq!(s.outcome, Outcome::Failed, "assertion should fail: {fail}");
        let f = s.steps[0].failure.as_ref().expect("a failure");
        assert!(
            f.expected.is_some() && f.actual.is_some() && f.curl.is_some(),
            "{f:?}"
        );
        assert!(f.response_excerpt.as_deref().unwrap_or("").contains("abc"));
    }
}

#[tokio::test]
async fn status_headers_body_schema_and_max_duration() {
    expect_outcome(
        r#"  - name: ok
    request: { method: GET, path: /echo, query: { q: "{{ greeting }}" }, headers: { X-Test: "v-{{ greeting }}" } }
    expect:
      status: [200, 201]
      headers: { x-echo: "yes", content-type: { contains: json }, x-missing: { exists: false } }
      json: { "$.query.q": hello, "$.headers['x-test']": v-hello }
      schema: { type: object, required: [headers, query], properties: { len: { type: integer } } }
      max_duration: 10s
  - name: text body
    request: { method: GET, path: /text }
    expect: { body: { contains: hello, not_contains: [panicked at] } }
"#,
        Outcome::Passed,
    )
    .await;
    for bad in [
        "expect: { status: 404 }",
        "expect: { headers: { x-echo: \"no\" } }",
        "expect: { headers: { x-absent: { exists: true } } }",
        "expect: { schema: { type: object, required: [nope] } }",
        "expect: { body: { not_contains: Traceback } }",
    ] {
        let path = if bad.contains("Traceback") {
            "/text"
        } else {
            "/echo"
        };
        let r = expect_outcome(
            &format!("  - name: bad\n    request: {{ method: GET, path: {path} }}\n    {bad}\n"),
            Outcome::Failed,
        )
        .await;
        assert!(!failure_message(&r).is_empty());
    }
    // max_duration: failure and a measurement.
    let r = expect_outcome("  - name: slow\n    request: { method: GET, path: /slow }\n    expect: { max_duration: 1ms }\n", Outcome::Failed).await;
    assert_eq!(r.measurements.len(), 1);
    // Named by its scenario (`t`), then the request.
    assert_eq!(r.measurements[0].metric, "t — GET /slow latency");
    assert_eq!(r.measurements[0].target, "< 1ms");
    assert!(!r.measurements[0].passed);
}

#[tokio::test]
async fn captures_json_header_status_and_missing() {
    expect_outcome(
        r#"  - name: create
    request: { method: POST, path: /flows, json: { flow_type: normal, flow_name: n1 } }
    expect: { status: 201 }
    capture: { id: "$.flow_id", loc: { header: location }, code: { status: true }, phases: "$.phases[*].name" }
  - name: use them
    request: { method: POST, path: /echo, json: { id: "{{ id }}", loc: "{{ loc }}", code: "{{ code }}", n: "{{ phases | len }}", all: "{{ phases | json }}" } }
    expect:
      json:
        "$.json.id": "{{ id }}"
        "$.json.loc": { matches: "^/flows/" }
        "$.json.code": 201
        "$.json.n": 2
        "$.json.all": '["a","b"]'
"#,
        Outcome::Passed,
    )
    .await;
    let r = expect_outcome(
        "  - name: c\n    request: { method: GET, path: /echo }\n    capture: { x: \"$.nothing\" }\n  - name: after\n    request: { method: GET, path: /echo }\n",
        Outcome::Failed,
    )
    .await;
    assert!(
        failure_message(&r).contains("capture `x`"),
        "{}",
        failure_message(&r)
    );
    assert_eq!(r.steps[1].outcome, Outcome::Skipped);
}

fn poll_steps(flow_type: &str, extra: &str) -> String {
    format!(
        r#"  - name: create
    request: {{ method: POST, path: /flows, json: {{ flow_type: {flow_type} }} }}
    expect: {{ status: 201 }}
    capture: {{ id: "$.flow_id" }}
  - name: wait
    poll:
      request: {{ method: GET, path: "/flows/{{{{ id }}}}" }}
      until: {{ json: {{ "$.status": completed }} }}
      fail_fast: {{ json: {{ "$.status": [failed, cancelled] }} }}
      interval: 10ms
      track: "$.status"
{extra}    capture: {{ final: "$.status" }}
"#
    )
}

#[tokio::test]
async fn poll_success_records_states() {
    let r = expect_outcome(
        &poll_steps("normal", "      state_machine: flow\n      monotonic: [\"$.progress_percentage\"]\n      order: { path: \"$.current_phase\", values: [a, b] }\n"),
        Outcome::Passed,
    )
    .await;
    assert_eq!(
        r.steps[1].states_seen,
        vec!["initialized", "running", "completed"]
    );
}

#[tokio::test]
async fn poll_fail_fast() {
    let r = expect_outcome(&poll_steps("fails", ""), Outcome::Failed).await;
    assert!(
        failure_message(&r).contains("fail_fast"),
        "{}",
        failure_message(&r)
    );
    assert_eq!(
        r.steps[1].states_seen.last().map(String::as_str),
        Some("failed")
    );
}

#[tokio::test]
async fn poll_timeout_names_the_last_state() {
    let r = expect_outcome(
        &poll_steps("stuck", "      timeout: 300ms\n"),
        Outcome::Failed,
    )
    .await;
    let m = failure_message(&r);
    assert!(m.contains("timed out") && m.contains("initialized"), "{m}");
}

#[tokio::test]
async fn poll_illegal_transition() {
    let r = expect_outcome(
        &poll_steps("backwards", "      state_machine: flow\n"),
        Outcome::Failed,
    )
    .await;
    let m = failure_message(&r);
    assert!(
        m.contains("illegal transition `running` → `initialized`"),
        "{m}"
    );
    // Without a state machine the same sequence is only a timeout-free pass... until it finishes.
}

#[tokio::test]
async fn poll_terminal_state_change() {
    let steps = poll_steps("resurrect", "      state_machine: flow\n")
        .replace("\"$.status\": completed", "\"$.status\": never");
    let r = expect_outcome(&steps, Outcome::Failed).await;
    let m = failure_message(&r);
    assert!(
        m.contains("terminal state `completed` changed to `running`"),
        "{m}"
    );
}

#[tokio::test]
async fn poll_monotonic_and_order() {
    let r = expect_outcome(
        &poll_steps("regress", "      monotonic: [\"$.progress_percentage\"]\n"),
        Outcome::Failed,
    )
    .await;
    assert!(
        failure_message(&r).contains("went down from 50 to 20"),
        "{}",
        failure_message(&r)
    );
    let r = expect_outcome(
        &poll_steps(
            "disorder",
            "      order: { path: \"$.current_phase\", values: [a, b] }\n",
        ),
        Outcome::Failed,
    )
    .await;
    assert!(
        failure_message(&r).contains("went back from `b` to `a`"),
        "{}",
        failure_message(&r)
    );
    expect_outcome(&poll_steps("regress", ""), Outcome::Passed).await;
}

#[tokio::test]
async fn parallel_distinct_same_and_winners() {
    expect_outcome(
        r#"  - name: many
    parallel:
      copies: 8
      steps:
        - name: count
          request: { method: POST, path: /counter }
          capture: { id: "$.id", c: "$.constant" }
      expect: { distinct: [id], same: [c] }
      collect: { ids: id }
  - name: collected
    request: { method: POST, path: /echo, json: { ids: "{{ ids }}" } }
    expect: { json: { "$.json.ids": { length: 8 } } }
  - name: only one wins
    parallel:
      copies: 5
      steps:
        - name: claim
          request: { method: POST, path: "/once/k-{{ run_id }}" }
          expect: { status: 201 }
      expect: { max_passed: 1, min_passed: 1 }
"#,
        Outcome::Passed,
    )
    .await;
    let r = expect_outcome(
        "  - name: many\n    parallel:\n      copies: 4\n      steps:\n        - name: count\n          request: { method: POST, path: /counter }\n          capture: { id: \"$.id\" }\n      expect: { same: [id] }\n",
        Outcome::Failed,
    )
    .await;
    assert!(
        failure_message(&r).contains("differs across copies"),
        "{}",
        failure_message(&r)
    );
    let r = expect_outcome(
        "  - name: many\n    parallel:\n      copies: 4\n      steps:\n        - name: c\n          request: { method: POST, path: /counter }\n          capture: { c: \"$.constant\" }\n      expect: { distinct: [c] }\n",
        Outcome::Failed,
    )
    .await;
    assert!(
        failure_message(&r).contains("not distinct"),
        "{}",
        failure_message(&r)
    );
    let r = expect_outcome(
        "  - name: claim\n    parallel:\n      copies: 3\n      steps:\n        - name: claim\n          request: { method: POST, path: \"/once/x-{{ copy }}\" }\n          expect: { status: 201 }\n      expect: { max_passed: 1 }\n",
        Outcome::Failed,
    )
    .await;
    assert!(
        failure_message(&r).contains("at most 1"),
        "{}",
        failure_message(&r)
    );
    expect_outcome(
        "  - name: claim\n    parallel:\n      copies: 2\n      steps:\n        - name: claim\n          request: { method: POST, path: \"/once/y-{{ run_id }}\" }\n          expect: { status: 201 }\n",
        Outcome::Failed,
    )
    .await;
}

#[tokio::test]
async fn for_each_inline_and_file() {
    let yaml = scenario(
        r#"  - name: types
    for_each:
      items: [{ t: normal, s: 201 }, { t: fails, s: 201 }]
      var: row
      steps:
        - name: create {{ row.t }}
          request: { method: POST, path: /flows, json: { flow_type: "{{ row.t }}" } }
          expect: { status: "{{ row.s }}", json: { "$.flow_type": "{{ row.t }}" } }
  - name: from file
    for_each:
      items_file: data/items.yaml
      steps:
        - name: echo
          request: { method: POST, path: /echo, json: { v: "{{ item }}", i: "{{ index }}" } }
          expect: { json: { "$.json.v": { one_of: [x, y] } } }
"#,
    );
    let report = run_files(&[("s.yaml", &yaml), ("data/items.yaml", "[x, y]\n")]).await;
    assert_eq!(
        report.scenarios[0].outcome,
        Outcome::Passed,
        "{:#?}",
        report.scenarios[0].steps
    );
    assert_eq!(report.scenarios[0].steps[1].children.len(), 2);
    let r = expect_outcome(
        "  - name: items\n    for_each:\n      items: [x, z, y]\n      steps:\n        - name: echo\n          request: { method: POST, path: /echo, json: { v: \"{{ item }}\" } }\n          expect: { json: { \"$.json.v\": [x, y] } }\n",
        Outcome::Failed,
    )
    .await;
    assert_eq!(r.steps[0].children[1].outcome, Outcome::Failed);
    assert_eq!(
        r.steps[0].children[2].outcome,
        Outcome::Passed,
        "every item runs"
    );
}

#[tokio::test]
async fn use_templates_from_lib() {
    let lib = r#"templates:
  create_flow:
    params: [flow_type]
    steps:
      - name: create
        request: { method: POST, path: /flows, json: { flow_type: "{{ flow_type }}" } }
        expect: { status: 201 }
        capture: { flow_id: "$.flow_id" }
"#;
    let ok = scenario(
        "  - name: make\n    use: create_flow\n    with: { flow_type: normal }\n    as: tenant_b\n  - name: read as b\n    as: tenant_b\n    request: { method: GET, path: \"/flows/{{ flow_id }}\" }\n    expect: { status: 200 }\n",
    );
    let report = run_files(&[("s.yaml", &ok), ("lib/flows.yaml", lib)]).await;
    assert_eq!(
        report.scenarios[0].outcome,
        Outcome::Passed,
        "{:#?}",
        report.scenarios[0].steps
    );
    let bad = scenario("  - name: make\n    use: create_flow\n    with: { flow_type: normal }\n    as: anonymous\n");
    let report = run_files(&[("s.yaml", &bad), ("lib/flows.yaml", lib)]).await;
    assert_eq!(report.scenarios[0].outcome, Outcome::Failed);
}

const MATRIX: &str = r#"  - name: matrix
    matrix:
      owners: [tenant_a, tenant_b]
      intruders: [tenant_a, tenant_b, anonymous]
      create:
        request: { method: POST, path: /flows, json: { flow_type: stuck, flow_name: "secret-{{ owner }}-{{ uuid }}" } }
        expect: { status: 201 }
        capture: { id: "$.flow_id" }
      markers: ["$.flow_name", "$.flow_id"]
      attempts:
        - { name: read, request: { method: GET, path: "READ_PATH" } }
        - { name: delete, request: { method: DELETE, path: "/flows/{{ id }}" } }
      denied: { status: [401, 404] }
      list: { request: { method: GET, path: LIST_PATH } }
      verify:
        request: { method: GET, path: "/flows/{{ id }}" }
        expect: { status: 200 }
"#;

#[tokio::test]
async fn matrix_passes_on_isolated_app() {
    let r = expect_outcome(
        &MATRIX
            .replace("READ_PATH", "/flows/{{ id }}")
            .replace("LIST_PATH", "/flows"),
        Outcome::Passed,
    )
    .await;
    // 2 owners × 2 intruders × (2 attempts + list) + 2 creates + 2 verifies
    assert_eq!(r.steps[0].children.len(), 2 * 2 * 3 + 4);
}

#[tokio::test]
async fn matrix_catches_leaky_read() {
    let r = expect_outcome(
        &MATRIX
            .replace("READ_PATH", "/leaky/flows/{{ id }}")
            .replace("LIST_PATH", "/flows"),
        Outcome::Failed,
    )
    .await;
    let m = failure_message(&r);
    assert!(
        m.contains("expected status one of [401, 404], got 200"),
        "{m}"
    );
}

#[tokio::test]
async fn matrix_catches_leaky_list() {
    let r = expect_outcome(
        &MATRIX
            .replace("READ_PATH", "/flows/{{ id }}")
            .replace("LIST_PATH", "/flows?leak=1"),
        Outcome::Failed,
    )
    .await;
    let m = failure_message(&r);
    assert!(m.contains("list leaks"), "{m}");
}

#[tokio::test]
async fn secrets_are_masked_in_curl_lines() {
    let r = expect_outcome(
        "  - name: bad\n    request: { method: GET, path: /echo }\n    expect: { status: 418 }\n",
        Outcome::Failed,
    )
    .await;
    let f = r.steps[0].failure.as_ref().unwrap();
    let curl = f.curl.as_deref().unwrap();
    assert!(curl.contains("Authorization: Bearer ***"), "{curl}");
    let excerpt = f.response_excerpt.as_deref().unwrap();
    assert!(!excerpt.contains(common::SECRET_A), "{excerpt}");
}

#[tokio::test]
async fn setup_teardown_requires_and_header_removal() {
    let yaml = "name: t\ncategory: health\nseverity: low\nsetup:\n  - name: s\n    request: { method: GET, path: /health }\n    capture: { v: \"$.version\" }\nsteps:\n  - name: anonymous by null header\n    request: { method: GET, path: /flows, headers: { Authorization: null } }\n    expect: { status: 401 }\nteardown:\n  - name: t\n    request: { method: GET, path: /nope-404 }\n    expect: { status: 200 }\n  - name: t2\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n";
    let r = run_one(yaml).await;
    assert_eq!(
        r.outcome,
        Outcome::Passed,
        "teardown never fails a scenario: {:#?}",
        r.steps
    );
    let teardown = r.steps.last().unwrap();
    assert_eq!(teardown.kind, "teardown");
    assert_eq!(teardown.children[0].outcome, Outcome::Failed);
    assert_eq!(
        teardown.children[1].outcome,
        Outcome::Passed,
        "every teardown step runs"
    );
    let r = run_one("name: t\ncategory: health\nseverity: low\nrequires: [time_travel]\nsteps:\n  - name: s\n    request: { method: GET, path: /health }\n").await;
    assert_eq!(r.outcome, Outcome::Skipped);
    assert!(r.steps[0]
        .summary
        .as_deref()
        .unwrap()
        .contains("time_travel"));
}

#[tokio::test]
async fn transport_errors_are_errors_not_failures() {
    let dir = common::write_suite(&[("s.yaml", &scenario("  - name: x\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n"))]);
    let suite = flowgate_harness::Suite::read(&[dir.path().to_path_buf()]).unwrap();
    let profile = common::profile("http://127.0.0.1:1");
    let report = flowgate_harness::run_suite(&suite, &profile, Default::default()).await;
    assert_eq!(report.scenarios[0].outcome, Outcome::Error);
    assert_eq!(report.exit_code(), 3);
    let msg = failure_message(&report.scenarios[0]);
    assert!(msg.contains("connection refused"), "{msg}");
    assert!(flowgate_harness::probe_target(&profile)
        .await
        .unwrap_err()
        .contains("cannot reach http://127.0.0.1:1/health: connection refused"));
}

#[tokio::test]
async fn request_timeout_is_an_error() {
    let r = run_one(&scenario(
        "  - name: hang\n    request: { method: GET, path: /hang, timeout: 200ms }\n",
    ))
    .await;
    assert_eq!(r.outcome, Outcome::Error);
    assert!(
        failure_message(&r).contains("timed out"),
        "{}",
        failure_message(&r)
    );
}

#[tokio::test]
async fn fail_fast_skips_the_rest_and_filters_select() {
    let base = common::start_app().await;
    let mut files = vec![("a_fail.yaml".to_string(), "name: a\ncategory: health\nseverity: high\ntags: [x]\nsteps:\n  - name: s\n    request: { method: GET, path: /health }\n    expect: { status: 500 }\n".to_string())];
    for i in 0..4 {
        files.push((format!("b{i}.yaml"), format!("name: b{i}\ncategory: health\nseverity: low\nsteps:\n  - name: s\n    delay: 50ms\n    request: {{ method: GET, path: /health }}\n")));
    }
    let f: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = common::write_suite(&f);
    let suite = flowgate_harness::Suite::read(&[dir.path().to_path_buf()]).unwrap();
    let profile = common::profile(&base);
    let opts = flowgate_harness::RunOptions {
        jobs: 1,
        fail_fast: true,
        ..Default::default()
    };
    let report = flowgate_harness::run_suite(&suite, &profile, opts).await;
    assert_eq!(report.scenarios[0].outcome, Outcome::Failed);
    assert!(report.scenarios[1..]
        .iter()
        .all(|s| s.outcome == Outcome::Skipped));
    let opts = flowgate_harness::RunOptions {
        jobs: 2,
        tags: vec!["x".into()],
        ..Default::default()
    };
    assert_eq!(
        flowgate_harness::run_suite(&suite, &profile, opts)
            .await
            .scenarios
            .len(),
        1
    );
    let opts = flowgate_harness::RunOptions {
        jobs: 2,
        skip_tags: vec!["x".into()],
        names: vec!["b1".into(), "b2".into()],
        ..Default::default()
    };
    let r = flowgate_harness::run_suite(&suite, &profile, opts).await;
    assert_eq!(
        r.scenarios
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        vec!["b1", "b2"]
    );
    assert_eq!(r.target.version.as_deref(), Some("1.2.3"));
}

#[tokio::test]
async fn example_fixtures_pass_against_the_test_app() {
    let base = common::start_app().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let suite = flowgate_harness::Suite::read(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    let profile = common::profile(&base);
    suite
        .validate_against(&profile)
        .unwrap_or_else(|e| panic!("{e}"));
    let report = flowgate_harness::run_suite(&suite, &profile, Default::default()).await;
    for s in &report.scenarios {
        assert_eq!(s.outcome, Outcome::Passed, "{}: {:#?}", s.id, s.steps);
    }
    assert_eq!(report.exit_code(), 0);
    let ids: Vec<&str> = report.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["concurrency", "flow_lifecycle", "health", "isolation"]
    );
}

/// A 429 the step does not expect is waited out as its `Retry-After` says (seconds, an
/// HTTP date, or absent: 1 s) and the request sent again; every answer is kept. A step
/// that expects 429 sees it; a `Retry-After` past the profile's `throttling.max_wait`
/// (60 s by default) is not waited for.
#[tokio::test]
async fn a_429_is_waited_out_unless_expected() {
    let statuses = |r: &ScenarioResult| -> Vec<Option<u16>> {
        r.steps[0].exchanges.iter().map(|e| e.status).collect()
    };
    let create = |path: &str, status: u16| {
        scenario(&format!(
            "  - name: create\n    request: {{ method: POST, path: {path}, json: {{}} }}\n    expect: {{ status: {status} }}\n"
        ))
    };
    let r = run_one(&create("/throttled/a/2/0", 201)).await;
    assert_eq!(r.outcome, Outcome::Passed, "{:#?}", r.steps);
    assert_eq!(statuses(&r), [Some(429), Some(429), Some(201)]);
    let summary = r.steps[0].summary.clone().unwrap_or_default();
    assert!(
        summary.contains("after 2 answer(s) 429 waited out"),
        "{summary}"
    );

    let started = std::time::Instant::now();
    for path in ["/throttled/b/1/none", "/throttled/c/1/date"] {
        let r = run_one(&create(path, 201)).await;
        assert_eq!(r.outcome, Outcome::Passed, "{path}: {:#?}", r.steps);
        assert_eq!(statuses(&r), [Some(429), Some(201)], "{path}");
    }
    // The date is to the second: only the absent header's 1 s is certain.
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));

    let r = run_one(&create("/throttled/d/1/0", 429)).await;
    assert_eq!(r.outcome, Outcome::Passed, "{:#?}", r.steps);
    assert_eq!(statuses(&r), [Some(429)]);

    let started = std::time::Instant::now();
    let r = run_one(&create("/throttled/e/1/120", 201)).await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(statuses(&r), [Some(429)]);
    assert!(
        failure_message(&r).contains("429"),
        "{}",
        failure_message(&r)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// The whole run waits out 429s for at most `throttling.max_total_wait` of wall-clock
/// time (overlapping waits count once): past it a 429 is the answer, so a target that
/// refuses everything fails in minutes, not hours.
#[tokio::test]
async fn a_run_stops_waiting_out_429s_past_its_total_budget() {
    let create = |name: &str, path: &str| {
        format!(
            "name: {name}\ncategory: health\nseverity: high\nsteps:\n  - name: create\n    request: {{ method: POST, path: {path}, json: {{}} }}\n    expect: {{ status: 201 }}\n"
        )
    };
    // Five 429s of `Retry-After: 1` each, then 201: unbounded, both would pass after
    // five waits of 1 to 1.25 s.
    let (f, g) = (
        create("f", "/throttled/f/5/1"),
        create("g", "/throttled/g/5/1"),
    );
    let started = std::time::Instant::now();
    let report = run_files_with_profile(
        &[("f.yaml", &f), ("g.yaml", &g)],
        "throttling: { max_total_wait: 1500ms }\n",
    )
    .await;
    for s in &report.scenarios {
        assert_eq!(s.outcome, Outcome::Failed, "{}: {:#?}", s.name, s.steps);
        let answers: Vec<_> = s.steps[0].exchanges.iter().map(|e| e.status).collect();
        // At least one wait: the two scenarios' concurrent waits share the budget's
        // first second rather than each spending its own.
        assert!(
            answers.len() >= 2 && answers.iter().all(|a| *a == Some(429)),
            "{}: {answers:?}",
            s.name
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
