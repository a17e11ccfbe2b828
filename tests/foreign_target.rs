//! Issue 14's foreign-target safety, seen from outside: the reference server is started
//! as a separate process, as any system the suite was not written for would be, and
//! `flowgate run` of the whole suite must leave it as it found it: no flow left behind
//! (counted before and after from the server's `/metrics`) and no load without `--load`.

mod separate_server;

use separate_server::SeparateServer;

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
    let server = SeparateServer::start(&[]).await;
    let (base, env) = (server.base.clone(), server.env.clone());
    assert_eq!(live_flows(&base).await, 0);

    let out_dir = dir.path().join("out");
    let out = separate_server::flowgate()
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
            "properties/deletes_are_final",
            "properties/liveness",
            "properties/aggregates",
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
