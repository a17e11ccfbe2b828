//! Issue 14's foreign-target safety, seen from outside: the reference server is started
//! as a separate process, as any system the suite was not written for would be, and
//! `flowgate run` of the whole suite must leave it as it found it: no flow left behind
//! (counted before and after from the server's `/metrics`) and no load without `--load`.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn flowgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowgate"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `export K=V` lines of `flowgate tenant create --format env`.
fn tenant(db: &str, name: &str, tenant_as: &str, engagements: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = flowgate();
    cmd.args(["tenant", "create", "--name", name, "--database-url", db]);
    for e in engagements {
        cmd.args(["--engagement", e]);
    }
    let out = cmd
        .args(["--format", "env", "--as", tenant_as])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(['\'', '"']).to_string()))
        .collect()
}

/// Flows of every tenant that are not deleted, from `flowgate_flows{status=…}`.
async fn live_flows(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("flowgate_flows{") && !l.contains("status=\"deleted\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_run_leaves_no_flow_behind_and_sends_no_load_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("foreign.db").display());
    // The schema is created by the first `tenant create`.
    let mut env = tenant(&db, "tenant-a", "A", &["default", "second"]);
    env.extend(tenant(&db, "tenant-b", "B", &["default"]));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        flowgate()
            .args(["serve", "--allow-simulated-faults", "--database-url", &db])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live_flows(&base).await, 0);

    let out_dir = dir.path().join("out");
    let out = flowgate()
        .args([
            "run",
            "scenarios",
            "--target",
            "scenarios/reference.target.yaml",
            "-q",
        ])
        .arg("--out")
        .arg(&out_dir)
        .arg("--history")
        .arg(dir.path().join("history.jsonl"))
        .envs(&env)
        .env("FLOWGATE_BASE_URL", &base)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(
        printed.contains("load phases not run (no --load)"),
        "{printed}"
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert!(report.get("load").is_none(), "no load phase ran");
    // The profile declares properties: checked over the whole history, and all hold.
    let properties: Vec<&serde_json::Value> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["category"] == "properties")
        .collect();
    let ids: Vec<&str> = properties.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "properties/no_server_errors",
            "properties/error_format",
            "properties/state_history",
            "properties/rejected_writes",
            "properties/isolation"
        ]
    );
    assert!(
        properties.iter().all(|s| s["outcome"] == "passed"),
        "{properties:?}"
    );
    // The history: one JSON object per exchange, every identity named, no key in clear.
    let history = std::fs::read_to_string(dir.path().join("history.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines.len() > 300, "{} exchanges", lines.len());
    assert!(lines.iter().any(|l| l["identity"] == "tenant_b"));
    assert!(lines
        .iter()
        .all(|l| l["started_ms"].as_f64() <= l["ended_ms"].as_f64()));
    for (k, v) in &env {
        if k.ends_with("_KEY") {
            assert!(!history.contains(v.as_str()), "{k} in clear in the history");
        }
    }
    let created: u64 = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["cleanup"]["created"].as_u64())
        .sum();
    assert!(created > 50, "the suite creates flows ({created})");
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains(&format!(
            "{created} resources created, {created} deleted, 0 left behind"
        )),
        "{md}"
    );
    assert_eq!(
        live_flows(&base).await,
        0,
        "flows left behind on the target"
    );
    // The profile names the OpenAPI document: the run measured what it exercised of it.
    let operations = report["coverage"]["operations"].as_array().unwrap();
    assert!(operations.len() > 15, "{operations:?}");
    assert!(md.contains("**API coverage** | "), "{md}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<h2 id=\"coverage\">API coverage</h2>"));
}
