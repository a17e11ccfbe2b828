//! A scenario's id, and the suite's digest, do not depend on how its path was typed:
//! `report diff` and `--rerun-failed` match scenarios by id across runs.

use flowgate_harness::Suite;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn ids(paths: &[PathBuf]) -> (Vec<String>, String) {
    let suite = Suite::read(paths).unwrap_or_else(|e| panic!("{e}"));
    let mut ids: Vec<String> = suite.scenarios.iter().map(|s| s.id.clone()).collect();
    ids.retain(|id| id.starts_with("health/"));
    (ids, suite.digest)
}

#[test]
fn ids_are_relative_to_the_suite_root_however_the_path_is_given() {
    let scenarios = repo().join("scenarios");
    let spellings = [
        vec![scenarios.join("health")],
        vec![scenarios.join("health").join("..").join("health")],
        vec![repo()
            .join("harness")
            .join("..")
            .join("scenarios")
            .join("health")],
        vec![
            scenarios.join("health").join("liveness.yaml"),
            scenarios.join("health"),
        ],
    ];
    let (expected, digest) = ids(&spellings[0]);
    assert!(
        expected.contains(&"health/liveness".to_string()),
        "{expected:?}"
    );
    for paths in &spellings[1..] {
        let (got, got_digest) = ids(paths);
        assert_eq!(got, expected, "ids for {paths:?}");
        assert_eq!(got_digest, digest, "digest for {paths:?}");
    }
}

#[test]
fn the_digest_changes_when_a_file_changes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("a.yaml");
    let text = "name: a\ncategory: health\nseverity: low\nsteps:\n  - name: s\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n";
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let before = Suite::read(&[dir.path().to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&file, text.replace("200", "204")).unwrap_or_else(|e| panic!("{e}"));
    let after = Suite::read(&[dir.path().to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(before.digest, after.digest);
    assert_eq!(before.digest.len(), 64);
}
