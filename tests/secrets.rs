//! Issue 6's acceptance: no output of a run contains an identity's secret. The run is a
//! real `flowgate validate` whose failures carry curl reproducers with the bearer keys in
//! them; every file written and everything printed is scanned for any API key.

use std::process::Command;

#[test]
fn no_output_of_a_failing_run_contains_an_api_key() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    // opaque-errors makes checks fail, so failure details (curl lines with the
    // Authorization header, response excerpts) reach every output.
    let output = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .args([
            "validate",
            "--suite",
            "scenarios/seed",
            "--defect",
            "opaque-errors",
            "--out",
        ])
        .arg(out_dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("flowgate runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "the defect makes a check fail"
    );

    // Every API key the reference server issues looks like this.
    let key = api_key_matcher();
    let mut scanned = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
    ];
    for entry in std::fs::read_dir(out_dir.path()).expect("out dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("a text report");
        scanned.push((path.display().to_string(), text));
    }
    assert!(scanned.len() >= 6, "stdout, stderr and four reports");
    let all = scanned.iter().map(|(_, t)| t.as_str()).collect::<String>();
    assert!(
        all.contains("Bearer ***"),
        "the reproducers are there, masked"
    );
    for (name, text) in &scanned {
        assert!(!key(text), "{name} contains an API key");
    }
}

/// A matcher for `fg_` followed by 64 hex digits (no regex crate in the root package).
fn api_key_matcher() -> impl Fn(&str) -> bool {
    |text: &str| {
        text.match_indices("fg_").any(|(i, _)| {
            let rest = &text[i + 3..];
            rest.len() >= 64 && rest[..64].bytes().all(|b| b.is_ascii_hexdigit())
        })
    }
}
