//! Malformed scenarios give `file:line:column: what was expected` (snapshots), and no
//! input makes the parser panic (proptest).

mod common;

use flowgate_harness::{check_scenario_text, Suite};
use proptest::prelude::*;

/// Loads a suite made of `files` and checks it against the test profile; returns the
/// error text with the temp folder stripped.
fn load_errors(files: &[(&str, &str)]) -> String {
    let dir = common::write_suite(files);
    let prefix = format!("{}/", dir.path().display());
    let result = Suite::read(&[dir.path().to_path_buf()]).and_then(|s| {
        let profile = common::profile("http://127.0.0.1:9");
        s.validate_against(&profile)
    });
    match result {
        Ok(()) => "no error".to_string(),
        Err(e) => e.to_string().replace(&prefix, ""),
    }
}

const HEAD: &str = "name: t\ncategory: health\nseverity: high\n";

#[test]
fn bad_yaml() {
    insta::assert_snapshot!(load_errors(&[(
        "bad.yaml",
        "name: t\nsteps:\n  - name: x\n    request: { method: GET, path: /x\n"
    )]));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(load_errors(&[("bad.yaml", &format!("{HEAD}steps:\n  - name: x\n    request: {{ method: GET, path: /x }}\n    expect: {{ status: lots }}\n  - name: y\n    request: {{ method: GET, path: /x, body_size: big }}\n"))]));
}

#[test]
fn unknown_key() {
    insta::assert_snapshot!(load_errors(&[("bad.yaml", &format!("{HEAD}steps:\n  - name: x\n    request: {{ method: GET, path: /x }}\n    expct: {{ status: 200 }}\n"))]));
}

#[test]
fn unknown_method_and_severity() {
    insta::assert_snapshot!(load_errors(&[
        (
            "a.yaml",
            "name: t\ncategory: health\nseverity: urgent\nsteps: []\n"
        ),
        (
            "b.yaml",
            &format!("{HEAD}steps:\n  - name: x\n    request: {{ method: FETCH, path: /x }}\n")
        ),
    ]));
}

#[test]
fn two_step_kinds_and_none() {
    insta::assert_snapshot!(load_errors(&[("bad.yaml", &format!(
        "{HEAD}steps:\n  - name: two\n    request: {{ method: GET, path: /x }}\n    poll:\n      request: {{ method: GET, path: /x }}\n      until: {{ status: 200 }}\n  - name: none\n    as: tenant_a\n"
    ))]));
}

#[test]
fn undefined_variable() {
    insta::assert_snapshot!(load_errors(&[("bad.yaml", &format!(
        "{HEAD}steps:\n  - name: create\n    request: {{ method: POST, path: /flows }}\n    capture: {{ flow_id: \"$.flow_id\" }}\n  - name: read\n    request: {{ method: GET, path: \"/flows/{{{{ flow_idd }}}}\" }}\n"
    ))]));
}

#[test]
fn unknown_identity() {
    insta::assert_snapshot!(load_errors(&[("bad.yaml", &format!(
        "{HEAD}steps:\n  - name: read\n    as: tenant_c\n    request: {{ method: GET, path: /flows }}\n"
    ))]));
}

#[test]
fn semantic_errors() {
    let lib = "templates:\n  make:\n    params: [flow_type]\n    steps:\n      - name: m\n        request: { method: POST, path: /flows, json: { flow_type: \"{{ flow_type }}\" } }\n";
    insta::assert_snapshot!(load_errors(&[
        ("lib/l.yaml", lib),
        ("bad.yaml", &format!(
            "{HEAD}steps:\n  - name: a\n    use: mak\n  - name: b\n    use: make\n  - name: c\n    poll:\n      request: {{ method: GET, path: /x }}\n      until: {{ json: {{ \"$.s\": {{ equalz: 1 }} }} }}\n      track: \"$.status\"\n      state_machine: flw\n  - name: d\n    request: {{ method: GET, path: /x }}\n    expect: {{ json: {{ \"$.a\": {{ matches: \"([\" }} }} }}\n"
        )),
        ("load.yaml", "name: l\ncategory: load\nseverity: high\nload:\n  users: 2\n  iterations: 1\n  transactions:\n    - name: t\n      steps:\n        - name: create flow\n          request: { method: POST, path: /flows }\n  thresholds:\n    - \"p95 < 250ms\"\n    - \"p42 < 1ms\"\n    - \"create flw: p99 < 1s\"\n"),
    ]));
}

#[test]
fn profile_level_errors() {
    insta::assert_snapshot!(load_errors(&[("bad.yaml", &format!(
        "{HEAD}variables: {{ a: \"{{{{ nope }}}}\" }}\nsteps:\n  - name: c\n    poll:\n      request: {{ method: GET, path: /x }}\n      until: {{ status: 200 }}\n      track: \"$.status\"\n      state_machine: flw\n  - name: m\n    matrix:\n      owners: [tenant_a, tenant_x]\n      intruders: [tenant_b]\n      create: {{ request: {{ method: POST, path: /flows }}, capture: {{ id: \"$.id\" }} }}\n      attempts: [{{ name: read, request: {{ method: GET, path: \"/flows/{{{{ id }}}}/{{{{ intruder }}}}/{{{{ copy }}}}\" }} }}]\n      denied: {{ status: 404 }}\n"
    ))]));
}

#[test]
fn valid_fixtures_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let suite = Suite::read(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    assert!(suite.scenarios.len() >= 3);
    let profile = common::profile("http://127.0.0.1:9");
    suite
        .validate_against(&profile)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn schema_describes_steps() {
    let s = flowgate_harness::scenario_schema().to_string();
    for key in [
        "\"poll\"",
        "\"matrix\"",
        "\"for_each\"",
        "\"not_one_of\"",
        "\"max_duration\"",
    ] {
        assert!(s.contains(key), "schema lacks {key}");
    }
    let p = flowgate_harness::profile_schema().to_string();
    assert!(p.contains("\"state_machines\""));
}

fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "name: x\n",
        "category: health\n",
        "severity: high\n",
        "steps:\n",
        "  - name: s\n",
        "    request: { method: GET, path: /x }\n",
        "    poll:\n",
        "      until: { status: 200 }\n",
        "    expect: { json: { \"$.a\": { length: 1 } } }\n",
        "    capture: { a: \"$[\" }\n",
        "    matrix: {}\n",
        "    for_each: { items: [1], steps: [] }\n",
        "- ",
        ": ",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "{{ x }}",
        "&a ",
        "*a",
        "!!binary ",
        "\t",
        "\n",
        "---\n",
        "? ",
        "|\n  ",
        "~",
        "variables: { a: \"{{ b }}\" }\n",
        "load: { users: 0, transactions: [] }\n",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = check_scenario_text(&text, "fuzz.yaml");
    }

    #[test]
    fn parser_never_panics_on_yamlish_documents(text in yamlish()) {
        let _ = check_scenario_text(&text, "fuzz.yaml");
        let _ = flowgate_harness::Profile::parse(&text, "fuzz.target.yaml", &flowgate_harness::EnvMap::default());
    }
}

#[test]
fn a_properties_section_that_names_nothing_real_is_refused_with_positions() {
    let text = "name: t\nbase_url: http://127.0.0.1:9\nidentities:\n  a: { headers: {} }\n\
                state_machines:\n  flow: { terminal: [done] }\n\
                properties:\n  state_machine: flw\n  scopes: { a: one, ghost: two }\n  \
                views:\n    - { request: \"/flows/{id}\", id: \"$.[\" }\n  restarts: [\"retry\"]\n";
    let err = flowgate_harness::Profile::parse(
        text,
        "p.target.yaml",
        &flowgate_harness::EnvMap::default(),
    )
    .expect_err("refused")
    .to_string();
    for expected in [
        "p.target.yaml:8:18: unknown state machine `flw`",
        "unknown identity `ghost`",
        "expected `METHOD /path`",
        "is not a JSONPath",
        "`retry`: expected `METHOD /path/{id}`",
    ] {
        assert!(err.contains(expected), "{expected} not in:\n{err}");
    }
}
