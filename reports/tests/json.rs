//! JSON: the model itself, read back with its schema version checked.

mod common;

use flowgate_reports::{from_json, render_json, ReportError};

#[test]
fn json_round_trips() {
    for r in [
        common::seed_run(),
        common::passing_run(),
        common::complex_run(),
    ] {
        let text = render_json(&r);
        let back = from_json(&text).map_err(|e| e.to_string());
        assert_eq!(back, Ok(r));
    }
}

#[test]
fn json_snapshot_of_the_seed_run() {
    insta::assert_snapshot!("json_seed", render_json(&common::seed_run()));
}

#[test]
fn other_schema_version_is_refused() {
    let text = render_json(&common::seed_run()).replacen(
        "\"schema_version\": 1",
        "\"schema_version\": 7",
        1,
    );
    match from_json(&text) {
        Err(ReportError::SchemaVersion { found, supported }) => {
            assert_eq!(found, "7");
            assert_eq!(supported, 1);
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
}

#[test]
fn garbage_is_refused_with_a_message() {
    for text in ["", "[]", "{\"schema_version\": 1}", "not json"] {
        let err = from_json(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("not a flowgate run result"),
            "{text}: {err}"
        );
    }
}
