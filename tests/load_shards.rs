//! Scale-out (issue 18): the same load run as one process and as three shards started
//! together (`--shard I/3 --start-at T`), then `flowgate report merge`, against a target
//! with a fixed latency (every request sleeps 40 ms): merged request counts add up
//! exactly, and the merged p95 is within the histogram's error of the single run's (plus
//! the scheduling noise of three processes on a two-core machine, measured and bounded).
//! Also: the Kubernetes example is an Indexed Job wired to `--shard`, and a soak's
//! `--report-every` leaves evidence on disk before the run ends.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const LATENCY: Duration = Duration::from_millis(40);

async fn fixed_latency_target() -> String {
    let app = Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "ok", "version": "fixed-1"})) }),
        )
        .route(
            "/work",
            get(|| async {
                tokio::time::sleep(LATENCY).await;
                Json(json!({"ok": true}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn write_files(dir: &Path, base: &str) {
    std::fs::write(
        dir.join("fixed.target.yaml"),
        format!(
            "name: fixed-latency\nbase_url: {base}\nhealth_path: /health\nversion_path: \"$.version\"\n\
             default_identity: a\nidentities:\n  a: {{ headers: {{ X-Who: a }} }}\n  b: {{ headers: {{ X-Who: b }} }}\n"
        ),
    )
    .expect("profile");
    std::fs::write(
        dir.join("fixed.yaml"),
        "name: fixed latency\ncategory: load\nseverity: high\n\
         requirement: the target answers within its fixed latency\n\
         load:\n  users: 30\n  increase_rate: 300\n  iterations: 10\n  identities: [a, b]\n  windows: 1s\n\
         \x20 transactions:\n    - name: work\n      steps:\n        - name: get work\n\
         \x20         request: { method: GET, path: /work }\n          expect: { status: 200 }\n\
         \x20 thresholds: [\"p95 < 2000ms\", \"requests >= 300\", \"error_rate < 1%\"]\n",
    )
    .expect("scenario");
}

fn flowgate(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("flowgate runs")
}

fn printed(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn all_row(path: &Path) -> Value {
    let run: Value =
        serde_json::from_slice(&std::fs::read(path).expect("result")).expect("json result");
    run["load"][0]["requests"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "all").cloned())
        .expect("an `all` row")
}

fn load_args(shard: &str, json: &str, start_at: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = [
        "load",
        "fixed.yaml",
        "--target",
        "fixed.target.yaml",
        "-q",
        "--shard",
        shard,
        "--json",
        json,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(t) = start_at {
        a.push("--start-at".into());
        a.push(t.into());
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_merge_into_the_single_run() {
    let base = fixed_latency_target().await;
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &base);
    let d = dir.path().to_path_buf();

    let single = tokio::task::spawn_blocking({
        let d = d.clone();
        move || flowgate(&d, &load_args("0/1", "single.json", None))
    })
    .await
    .expect("single run");
    assert_eq!(single.status.code(), Some(0), "{}", printed(&single));

    // Three shards, started together by a start barrier two seconds ahead.
    let start = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let d = d.clone();
            let start = start.clone();
            tokio::task::spawn_blocking(move || {
                flowgate(
                    &d,
                    &load_args(&format!("{i}/3"), &format!("shard-{i}.json"), Some(&start)),
                )
            })
        })
        .collect();
    for s in shards {
        let out = s.await.expect("shard");
        // A shard alone is 100 requests: its `requests >= 300` fails, as it should.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            printed(&out)
        );
    }
    let counts: Vec<u64> = (0..3)
        .map(|i| {
            all_row(&d.join(format!("shard-{i}.json")))["count"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(
        counts,
        vec![100, 100, 100],
        "users 10 + 10 + 10, 10 iterations each"
    );

    let merged = flowgate(
        &d,
        &[
            "report",
            "merge",
            "shard-2.json",
            "shard-0.json",
            "shard-1.json",
            "--json",
            "merged.json",
        ]
        .map(String::from),
    );
    assert_eq!(merged.status.code(), Some(0), "{}", printed(&merged));
    let (m, s) = (
        all_row(&d.join("merged.json")),
        all_row(&d.join("single.json")),
    );
    assert_eq!(m["count"], 300, "merged counts add up exactly");
    assert_eq!(s["count"], 300);
    assert_eq!(m["failures"], 0);

    // Both runs measure the same fixed latency: their p95 agree within the histogram's
    // error (1/128 per side) plus the noise of scheduling three processes on two cores.
    let (mp95, sp95) = (
        m["p95_ms"].as_f64().unwrap_or(0.0),
        s["p95_ms"].as_f64().unwrap_or(0.0),
    );
    eprintln!("p95: single run {sp95} ms, three shards merged {mp95} ms");
    assert!(mp95 >= 40.0 && sp95 >= 40.0, "merged {mp95} single {sp95}");
    let bound = sp95 * 2.0 * flowgate_reports::MAX_RELATIVE_ERROR + 5.0;
    assert!(
        (mp95 - sp95).abs() <= bound,
        "merged p95 {mp95} ms vs single {sp95} ms (bound {bound:.2} ms)"
    );
    let merged_run: Value =
        serde_json::from_slice(&std::fs::read(d.join("merged.json")).expect("merged"))
            .expect("json");
    let load = &merged_run["load"][0];
    assert_eq!(load["users"], 30);
    assert_eq!(load["shard"]["indexes"], json!([0, 1, 2]));
    assert!(load["thresholds"]
        .as_array()
        .is_some_and(|t| t.iter().all(|t| t["passed"] == true)));
    let windows: u64 = load["timeseries"]
        .as_array()
        .map(|w| w.iter().filter_map(|p| p["requests"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(windows, 300, "every request is in one merged window");
    let note = load["notes"][0].as_str().unwrap_or_default().to_string();
    assert!(note.starts_with("merged from 3 shards"), "{note}");

    // Half the shards are not the run.
    let partial = flowgate(
        &d,
        &["report", "merge", "shard-0.json", "shard-1.json"].map(String::from),
    );
    assert_eq!(partial.status.code(), Some(2), "{}", printed(&partial));
    assert!(printed(&partial).contains("shard 2/3 missing"));
}

#[test]
fn a_shard_is_refused_when_it_would_hold_no_user() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), "http://127.0.0.1:9");
    for bad in ["3/3", "1/0", "a/2", "2"] {
        let out = flowgate(dir.path(), &load_args(bad, "x.json", None));
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", printed(&out));
        assert!(printed(&out).contains("expected I/N"), "{}", printed(&out));
    }
    let out = flowgate(
        dir.path(),
        &[
            "load",
            "fixed.yaml",
            "--target",
            "fixed.target.yaml",
            "--users",
            "2",
            "--shard",
            "0/3",
        ]
        .map(String::from),
    );
    assert_eq!(out.status.code(), Some(2), "{}", printed(&out));
    assert!(printed(&out).contains("has no users"), "{}", printed(&out));
}

/// The Kubernetes example: an Indexed Job, one pod per shard, the completion index
/// passed to `--shard`, completions = parallelism = the shard count in `--shard`.
#[test]
fn the_kubernetes_example_is_an_indexed_job_wired_to_shard() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("load/k8s");
    let text = std::fs::read_to_string(root.join("load-shards.yaml")).expect("the example");
    let mut jobs = 0;
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
        assert!(v["apiVersion"].is_string() && v["kind"].is_string(), "{v}");
        if v["kind"] != "Job" {
            continue;
        }
        jobs += 1;
        let spec = &v["spec"];
        assert_eq!(spec["completionMode"], "Indexed", "{spec}");
        assert_eq!(spec["completions"], spec["parallelism"], "{spec}");
        let n = spec["completions"].as_u64().expect("completions");
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let container = &pod["containers"][0];
        let args: Vec<String> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.contains(&format!("--shard $(JOB_COMPLETION_INDEX)/{n}")),
            "{joined}"
        );
        assert!(joined.contains("--start-at"), "{joined}");
        assert!(joined.contains("--json"), "{joined}");
        // Every flag the example passes is one `flowgate load` knows.
        let help = Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(["load", "--help"])
            .output()
            .expect("help");
        let help = String::from_utf8_lossy(&help.stdout).to_string();
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(
                help.contains(flag.as_str()),
                "{flag} is not a flag of flowgate load"
            );
        }
    }
    assert_eq!(jobs, 1, "one Job in the example");
    let merge = std::fs::read_to_string(root.join("merge.yaml")).expect("the merge Job");
    let v: Value = serde_yaml_ng::from_str(&merge).expect("valid YAML");
    assert_eq!(v["kind"], "Job");
    let command = v["spec"]["template"]["spec"]["containers"][0]["command"].to_string();
    assert!(
        command.contains("flowgate report merge /results/shard-*.json"),
        "{command}"
    );
}

/// `--report-every`: while the phase still runs, `report.json` and `report.html` in
/// `--out` hold what was measured so far, marked partial; the end replaces them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_writes_a_rolling_report_before_it_ends() {
    let base = fixed_latency_target().await;
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &base);
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .current_dir(dir.path())
        .args([
            "load",
            "fixed.yaml",
            "--target",
            "fixed.target.yaml",
            "-q",
            "--users",
            "4",
            "--duration",
            "4s",
            "--report-every",
            "1s",
            "--out",
            "soak",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("flowgate load starts");
    let json = dir.path().join("soak/report.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    let mut partial: Option<Value> = None;
    while std::time::Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&json) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                partial = Some(v);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    let partial = partial.expect("a rolling report.json before the end");
    assert!(
        still_running,
        "the rolling report came before the run ended"
    );
    let note = partial["load"][0]["notes"][0].as_str().unwrap_or_default();
    assert!(note.starts_with("PARTIAL: "), "{note}");
    assert!(dir.path().join("soak/report.html").exists());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let last: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("final")).expect("json");
    let notes = last["load"][0]["notes"].to_string();
    assert!(
        !notes.contains("PARTIAL"),
        "the final report replaced it: {notes}"
    );
}
