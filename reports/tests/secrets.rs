//! No output of `write_all_redacted` contains a secret the run was given.

mod common;

use flowgate_reports::*;

const KEY: &str = "fgk_live_S3cr3t+Key/With=Chars";
const ENGAGEMENT_SECRET: &str = "tenant-b-secret-9f8e7d";

fn leaky_run() -> RunReport {
    let mut r = common::seed_run();
    let s = &mut r.scenarios[0];
    let f = s.steps[1].children[1].failure.as_mut();
    if let Some(f) = f {
        f.curl = Some(format!(
            "curl -sS 'http://127.0.0.1:8000/api/v1/flows?api_key={}' -H 'Authorization: Bearer {KEY}'",
            "fgk_live_S3cr3t%2BKey%2FWith%3DChars"
        ));
        f.response_excerpt = Some(format!(
            "{{\"echo\":\"{ENGAGEMENT_SECRET}\",\"key\":\"{KEY}\"}}"
        ));
        f.message = format!("expected 404, got 200 for key {KEY}");
    }
    s.steps[1].children[1].exchanges[0].url =
        format!("http://127.0.0.1:8000/api/v1/flows?token={ENGAGEMENT_SECRET}");
    s.name = format!("Isolation ({ENGAGEMENT_SECRET})");
    r.target.base_url = format!("http://user:{ENGAGEMENT_SECRET}@127.0.0.1:8000");
    r
}

#[test]
fn no_output_contains_a_secret() {
    let r = leaky_run();
    // The unredacted outputs do leak: the test can fail.
    assert!(render_json(&r).contains(KEY));
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let secrets = vec![
        KEY.to_string(),
        ENGAGEMENT_SECRET.to_string(),
        String::new(),
    ];
    let paths = match write_all_redacted(&r, dir.path(), &secrets) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(paths.len(), 4);
    for p in &paths {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => panic!("{}: {e}", p.display()),
        };
        for s in &secrets[..2] {
            assert!(
                !text.contains(s.as_str()),
                "{} contains a secret",
                p.display()
            );
        }
        assert!(
            !text.contains("S3cr3t"),
            "{} contains a (percent-encoded) secret",
            p.display()
        );
        assert!(text.contains("***"), "{} shows no mask", p.display());
    }
    // The caller's report is untouched; the written JSON still reads back.
    assert!(r.scenarios[0].name.contains(ENGAGEMENT_SECRET));
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap_or_default();
    let back = from_json(&json).map_err(|e| e.to_string());
    assert!(back.is_ok(), "{back:?}");
}

#[test]
fn redact_leaves_structure_alone() {
    let mut r = common::seed_run();
    // A "secret" equal to an outcome name must not break the report.
    let before = r.summary();
    if let Err(e) = redact(&mut r, &["failed".to_string(), "2026".to_string()]) {
        panic!("{e}");
    }
    assert_eq!(r.summary(), before);
    assert_eq!(r.started_at, common::at(14, 0, 0));
}

#[test]
fn single_file_outputs_are_redacted_too() {
    let r = leaky_run();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    for format in OutputFormat::ALL {
        let path = dir.path().join("nested").join(format.file_name());
        if let Err(e) = write_one_redacted(&r, format, &path, &[KEY.to_string()]) {
            panic!("{e}");
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(!text.is_empty());
        assert!(!text.contains("S3cr3t"), "{} leaks the key", path.display());
    }
}
