//! `flowgate run` end to end: exit 3 with a one-line message against a stopped port,
//! exit 2 on a malformed scenario, and `flowgate schema` output.

use std::process::Command;

fn flowgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowgate"))
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const PROFILE: &str = "name: stopped\nbase_url: http://127.0.0.1:1\nhealth_path: /health\nidentities:\n  anonymous: { headers: {} }\n";
const SCENARIO: &str = "name: health\ncategory: health\nseverity: critical\nsteps:\n  - name: health\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n";

#[test]
fn unreachable_target_exits_3_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(dir.path(), "stopped.target.yaml", PROFILE);
    let scenario = write(dir.path(), "health.yaml", SCENARIO);
    let out = flowgate()
        .arg("run")
        .arg(&scenario)
        .arg("--target")
        .arg(&profile)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(
        stderr.contains("cannot reach http://127.0.0.1:1/health: connection refused"),
        "stderr: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn malformed_scenario_exits_2_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(dir.path(), "stopped.target.yaml", PROFILE);
    let scenario = write(
        dir.path(),
        "bad.yaml",
        &SCENARIO.replace("expect:", "expectt:"),
    );
    let out = flowgate()
        .arg("run")
        .arg(&scenario)
        .arg("--target")
        .arg(&profile)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("bad.yaml:7:5: "), "stderr: {stderr}");
    assert!(
        stderr.contains("unknown field `expectt`"),
        "stderr: {stderr}"
    );
}

#[test]
fn missing_environment_variable_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "p.target.yaml",
        &PROFILE.replace("http://127.0.0.1:1", "${env:FLOWGATE_TEST_SURELY_UNSET}"),
    );
    let scenario = write(dir.path(), "health.yaml", SCENARIO);
    let out = flowgate()
        .arg("run")
        .arg(&scenario)
        .arg("--target")
        .arg(&profile)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(
            "p.target.yaml:2:11: environment variable `FLOWGATE_TEST_SURELY_UNSET` is not set"
        ),
        "stderr: {stderr}"
    );
}

#[test]
fn schema_prints_json_schema() {
    for (kind, needle) in [("scenario", "\"steps\""), ("profile", "\"identities\"")] {
        let out = flowgate().args(["schema", kind]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v.to_string().contains(needle));
    }
}
