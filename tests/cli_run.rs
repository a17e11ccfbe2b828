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

/// `flowgate run SCENARIO --target PROFILE`: its exit code and standard error.
fn run_scenario(scenario: &std::path::Path, profile: &std::path::Path) -> (Option<i32>, String) {
    let out = flowgate()
        .arg("run")
        .arg(scenario)
        .arg("--target")
        .arg(profile)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PROFILE: &str = "name: stopped\nbase_url: http://127.0.0.1:1\nhealth_path: /health\nidentities:\n  anonymous: { headers: {} }\n";
const SCENARIO: &str = "name: health\ncategory: health\nseverity: critical\nsteps:\n  - name: health\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n";

#[test]
fn unreachable_target_exits_3_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(dir.path(), "stopped.target.yaml", PROFILE);
    let scenario = write(dir.path(), "health.yaml", SCENARIO);
    let (code, stderr) = run_scenario(&scenario, &profile);
    assert_eq!(code, Some(3), "stderr: {stderr}");
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
    let (code, stderr) = run_scenario(&scenario, &profile);
    assert_eq!(code, Some(2), "stderr: {stderr}");
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
    let (code, stderr) = run_scenario(&scenario, &profile);
    assert_eq!(code, Some(2), "stderr: {stderr}");
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

/// A target that answers 200 `{}` to every request, on a free loopback port, for as long
/// as the test runs (bounded: it serves at most 200 connections).
fn tiny_target() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    format!("http://{addr}")
}

/// A folder with a profile of a live [`tiny_target`] and an empty `suite/` folder.
fn live_fixture() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let base = tiny_target();
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "tiny.target.yaml",
        &PROFILE.replace("http://127.0.0.1:1", &base),
    );
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    (dir, profile, suite)
}

/// `flowgate run SUITE --target PROFILE EXTRA...`: exit code and all output.
fn run_on(
    suite: &std::path::Path,
    profile: &std::path::Path,
    extra: &[&std::ffi::OsStr],
) -> (Option<i32>, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "run".as_ref(),
        suite.as_os_str(),
        "--target".as_ref(),
        profile.as_os_str(),
    ];
    args.extend_from_slice(extra);
    run_and_capture(&args)
}

fn run_and_capture(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = flowgate().args(args).output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn nothing_checked_is_no_verdict_and_exit_1_never_a_green_gate() {
    let (dir, profile, scenarios) = live_fixture();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out_dir = dir.path().join("out");
    let (code, text) = run_on(&empty, &profile, &["--out".as_ref(), out_dir.as_os_str()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("verdict: NO VERDICT: nothing was checked"),
        "{text}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap_or_default();
    assert!(md.contains("NO VERDICT"), "{md}");
    assert!(!md.contains("PRODUCTION READY"), "{md}");

    // A filter that matches nothing is the same: no verdict, exit 1.
    write(&scenarios, "health.yaml", SCENARIO);
    let (code, text) = run_on(
        &scenarios,
        &profile,
        &["--tag".as_ref(), "nosuchtag".as_ref()],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("NO VERDICT"), "{text}");

    // And the same suite unfiltered passes: the gate is green only when something ran.
    let (code, text) = run_on(&scenarios, &profile, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verdict: PRODUCTION READY"), "{text}");
}

#[test]
fn rerun_failed_runs_only_what_failed_before() {
    let (dir, profile, suite) = live_fixture();
    write(&suite, "passes.yaml", SCENARIO);
    write(
        &suite,
        "fails.yaml",
        &SCENARIO
            .replace("name: health\n", "name: fails\n")
            .replace("status: 200", "status: 201"),
    );
    let first = dir.path().join("first.json");
    let (code, text) = run_on(&suite, &profile, &["--json".as_ref(), first.as_os_str()]);
    assert_eq!(code, Some(1), "{text}");

    let second = dir.path().join("second.json");
    let (code, text) = run_on(
        &suite,
        &profile,
        &[
            "--rerun-failed".as_ref(),
            first.as_os_str(),
            "--json".as_ref(),
            second.as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    let json = std::fs::read_to_string(&second).unwrap_or_default();
    let report = flowgate_reports::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = report.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["fails"], "{text}");
    assert!(
        report.selection.filters[0].starts_with("--rerun-failed"),
        "{:?}",
        report.selection.filters
    );

    // A result in which nothing failed leaves nothing to rerun: exit 0, nothing sent.
    let clean = dir.path().join("clean.json");
    let (code, text) = run_on(
        &suite,
        &profile,
        &[
            "--name".as_ref(),
            "health".as_ref(),
            "--json".as_ref(),
            clean.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run_on(
        &suite,
        &profile,
        &["--rerun-failed".as_ref(), clean.as_os_str()],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("nothing to rerun"), "{text}");
}

#[test]
fn an_evidence_bundle_verifies_and_any_change_is_named() {
    let (dir, profile, suite) = live_fixture();
    write(&suite, "health.yaml", SCENARIO);
    let bundle = dir.path().join("evidence");
    let (code, text) = run_on(
        &suite,
        &profile,
        &["--evidence".as_ref(), bundle.as_os_str()],
    );
    assert_eq!(code, Some(0), "{text}");
    for f in [
        "manifest.json",
        "report.json",
        "report.md",
        "junit.xml",
        "report.html",
    ] {
        assert!(bundle.join(f).is_file(), "{f} missing: {text}");
    }
    assert!(bundle.join("suite/health.yaml").is_file());
    assert!(bundle.join("profile/tiny.target.yaml").is_file());
    let verify = || run_and_capture(&["evidence".as_ref(), "verify".as_ref(), bundle.as_os_str()]);
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("verdict: PRODUCTION READY"), "{text}");

    // One byte of any file: exit 1, naming the file.
    for f in ["report.md", "suite/health.yaml", "profile/tiny.target.yaml"] {
        let path = bundle.join(f);
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        changed[0] ^= 0x20;
        std::fs::write(&path, &changed).unwrap();
        let (code, text) = verify();
        assert_eq!(code, Some(1), "{f}: {text}");
        assert!(text.contains(&format!("{f}: changed")), "{f}: {text}");
        std::fs::write(&path, &original).unwrap();
    }

    // A forged result: the outcome changed in report.json and its hash re-written in the
    // manifest, so only the re-derived verdict can tell.
    let report_path = bundle.join("report.json");
    let original = std::fs::read_to_string(&report_path).unwrap();
    let forged = original.replacen("\"outcome\": \"passed\"", "\"outcome\": \"failed\"", 1);
    assert_ne!(forged, original, "the report has an outcome to forge");
    std::fs::write(&report_path, &forged).unwrap();
    let manifest_path = bundle.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(forged.as_bytes()))
    };
    for f in manifest["files"].as_array_mut().unwrap() {
        if f["path"] == "report.json" {
            f["sha256"] = digest.clone().into();
            f["bytes"] = forged.len().into();
        }
    }
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("report.json: its results give"), "{text}");
    std::fs::write(&report_path, &original).unwrap();

    // A second run into the same bundle is refused before anything is sent.
    let (code, text) = run_on(
        &suite,
        &profile,
        &["--evidence".as_ref(), bundle.as_os_str()],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("the folder is not empty"), "{text}");
    assert!(!text.contains("verdict:"), "the run went ahead: {text}");

    // A file slipped in afterwards is named too.
    std::fs::write(bundle.join("extra.txt"), "x").unwrap();
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("extra.txt: not in the manifest"), "{text}");
}

/// A target where `/flows` answers `307 Location: /flows/` (FastAPI's trailing-slash
/// redirect) and every other path 200 `{"ok":true}`; bounded to 200 connections.
fn redirecting_target() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let answer: &[u8] = if head.starts_with("GET /flows ") {
                b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /flows/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}"
            };
            let _ = s.write_all(answer);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_redirect_shows_its_location_unless_the_profile_follows_it() {
    let base = redirecting_target();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "list.yaml",
        "name: list\ncategory: flow_creation\nseverity: high\nsteps:\n  - name: list\n    request: { method: GET, path: /flows }\n    expect: { status: 200, json: { \"$.ok\": true } }\n",
    );
    let profile = PROFILE.replace("http://127.0.0.1:1", &base);

    let strict = write(dir.path(), "strict.target.yaml", &profile);
    let (code, out) = run_on(&scenario, &strict, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("expected status 200, got 307 (Location: /flows/)"),
        "the failure shows where the answer is: {out}"
    );

    let following = write(
        dir.path(),
        "following.target.yaml",
        &format!("{profile}follow_redirects: true\n"),
    );
    let md = dir.path().join("report.md");
    let (code, out) = run_on(
        &scenario,
        &following,
        &["--markdown".as_ref(), md.as_os_str()],
    );
    assert_eq!(code, Some(0), "{out}");
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("redirects followed"),
        "the report says so: {md}"
    );
}

#[test]
fn certify_refuses_a_filter_that_drops_a_must_before_sending_anything() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "quiet.target.yaml",
        &PROFILE.replace("http://127.0.0.1:1", &base),
    );
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    for (name, tag) in [("reads", "a"), ("writes", "b")] {
        write(
            &suite,
            &format!("{name}.yaml"),
            &format!("name: {name}\ncategory: health\nseverity: high\nlevel: must\ntags: [{tag}]\nsteps:\n  - name: get\n    request: {{ method: GET, path: /health }}\n    expect: {{ status: 200 }}\n"),
        );
    }
    let (code, out) = run_on(
        &suite,
        &profile,
        &["--tag".as_ref(), "a".as_ref(), "--certify".as_ref()],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--certify: 1 must requirement would not run"),
        "{out}"
    );
    assert!(out.contains("writes (left out by the filters)"), "{out}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "nothing may be sent to the target"
    );
}

#[test]
fn certify_marks_a_run_where_every_must_passed() {
    let (_dir, profile, suite) = live_fixture();
    write(
        &suite,
        "health.yaml",
        "name: health\ncategory: health\nseverity: high\nlevel: must\nsteps:\n  - name: get\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n",
    );
    write(
        &suite,
        "optional.yaml",
        "name: optional\ncategory: health\nseverity: low\nlevel: may\nrequires: [a_capability_nobody_has]\nsteps:\n  - name: get\n    request: { method: GET, path: /health }\n    expect: { status: 200 }\n",
    );
    let (code, out) = run_on(&suite, &profile, &["--certify".as_ref()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("CERTIFIED (every must requirement ran and passed)"),
        "{out}"
    );
}

#[test]
fn a_signed_bundle_verifies_with_its_public_key_and_a_forger_without_the_key_is_caught() {
    let (dir, profile, suite) = live_fixture();
    write(&suite, "health.yaml", SCENARIO);
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "openssl {args:?}");
    };
    // Keys as a user makes them: openssl's PKCS#8 and SubjectPublicKeyInfo PEM.
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "key.pem"]);
    openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "other.pem"]);
    openssl(&[
        "pkey",
        "-in",
        "other.pem",
        "-pubout",
        "-out",
        "other-pub.pem",
    ]);
    let bundle = dir.path().join("evidence");
    let key = dir.path().join("key.pem");
    let (code, text) = run_on(
        &suite,
        &profile,
        &[
            "--evidence".as_ref(),
            bundle.as_os_str(),
            "--sign-key".as_ref(),
            key.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(bundle.join("manifest.sig").is_file());
    let verify_with = |public: &str| {
        let public = dir.path().join(public);
        run_and_capture(&[
            "evidence".as_ref(),
            "verify".as_ref(),
            bundle.as_os_str(),
            "--public-key".as_ref(),
            public.as_os_str(),
        ])
    };
    let (code, text) = verify_with("pub.pem");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("(signature verified)"), "{text}");
    let (code, text) = verify_with("other-pub.pem");
    assert_eq!(code, Some(1), "another key: {text}");
    assert!(text.contains("manifest.sig: does not verify"), "{text}");

    // A forger who changes a file and rewrites its hash in the manifest, without the key.
    let manifest_path = bundle.join("manifest.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(
        &manifest_path,
        original.replacen("\"bytes\"", "\"bytes\" ", 1),
    )
    .unwrap();
    let (code, text) = verify_with("pub.pem");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("manifest.sig: does not verify"), "{text}");
    std::fs::write(&manifest_path, &original).unwrap();

    // An unsigned bundle does not pass a check that asks for a signature.
    std::fs::remove_file(bundle.join("manifest.sig")).unwrap();
    let (code, text) = verify_with("pub.pem");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("manifest.sig: missing"), "{text}");
}

#[test]
fn min_coverage_needs_the_document_and_fails_a_run_that_cannot_measure_it() {
    let (dir, profile, suite) = live_fixture();
    write(&suite, "health.yaml", SCENARIO);
    let (code, text) = run_on(
        &suite,
        &profile,
        &["--min-coverage".as_ref(), "50".as_ref()],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--min-coverage needs the target's OpenAPI document"),
        "{text}"
    );

    // The tiny target answers `{}` to everything: a document without `paths`.
    let with_doc = write(
        dir.path(),
        "doc.target.yaml",
        &format!(
            "{}openapi_path: /openapi.json\n",
            std::fs::read_to_string(&profile).unwrap()
        ),
    );
    let md = dir.path().join("report.md");
    let (code, text) = run_on(
        &suite,
        &with_doc,
        &[
            "--min-coverage".as_ref(),
            "50".as_ref(),
            "--markdown".as_ref(),
            md.as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("NOT PRODUCTION READY (API coverage not measured < 50.0%)"),
        "{text}"
    );
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("not measured: the document has no `paths`"),
        "{md}"
    );
}
