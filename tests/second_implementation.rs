//! The suite as a specification (issue 14): a second, independent implementation of
//! `server/API.md` — in memory, written from the contract alone, in its own words — must
//! pass the whole suite with the reference's own profile, as the reference does
//! (`tests/foreign_target.rs` runs the same suite, same profile, at the reference as a
//! separate process). A scenario that only the reference passes tests the reference, not
//! the contract.
//!
//! Where the contract leaves room, this implementation differs on purpose: UUID v4 ids,
//! its own titles, details, messages and problem `type` URIs, extra event kinds
//! (`flow_accepted`, `checkpoint`, `retry_planned`) and `seq` in steps of 10, a phase
//! status `awaiting_approval`, extra members (`kind`, `revision`, `links`, `count`), its
//! own cursor format, retry delays, phase timings and `/metrics` families.

mod second_implementation {
    pub mod app;
    pub mod model;
    pub mod problem;
}

use second_implementation::{app, model::Tenant};
use std::process::Command;
use uuid::Uuid;

fn tenant(engagements: usize) -> Tenant {
    Tenant {
        account: Uuid::new_v4(),
        engagements: (0..engagements).map(|_| Uuid::new_v4()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_against_a_second_implementation() {
    let (a, b) = (tenant(2), tenant(1));
    let (key_a, key_b) = (
        format!("sk_live_{}", Uuid::new_v4().simple()),
        format!("sk_live_{}", Uuid::new_v4().simple()),
    );
    let addr = app::spawn(vec![(key_a.clone(), a.clone()), (key_b.clone(), b.clone())]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("out");
    let env = [
        ("FLOWGATE_BASE_URL", format!("http://{addr}")),
        ("FLOWGATE_TENANT_A_KEY", key_a),
        ("FLOWGATE_TENANT_A_ACCOUNT", a.account.to_string()),
        ("FLOWGATE_TENANT_A_ENGAGEMENT", a.engagements[0].to_string()),
        (
            "FLOWGATE_TENANT_A_OTHER_ENGAGEMENT",
            a.engagements[1].to_string(),
        ),
        ("FLOWGATE_TENANT_B_KEY", key_b),
        ("FLOWGATE_TENANT_B_ACCOUNT", b.account.to_string()),
        ("FLOWGATE_TENANT_B_ENGAGEMENT", b.engagements[0].to_string()),
    ];
    let run_dir = out_dir.clone();
    let load_env = env.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "run",
                "scenarios",
                "--target",
                "scenarios/reference.target.yaml",
                "-q",
                "--out",
            ])
            .arg(&run_dir)
            .envs(env)
            .output()
    })
    .await
    .expect("the run task")
    .expect("flowgate runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("report.json")).expect("report.json written"),
    )
    .expect("report.json is JSON");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let not_passed: Vec<String> = scenarios
        .iter()
        .filter(|s| s["outcome"] != "passed" && s["outcome"] != "skipped")
        .map(|s| {
            let reasons: Vec<String> = s["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|st| st["outcome"] != "passed")
                .map(|st| format!("{}: {}", st["name"], st["failures"]))
                .collect();
            format!("{} [{}] {}", s["id"], s["outcome"], reasons.join("; "))
        })
        .collect();
    assert!(
        not_passed.is_empty(),
        "scenarios that do not pass against a correct second implementation \
         (they test the reference, not the contract):\n{}\n\n{printed}",
        not_passed.join("\n")
    );
    let skipped: Vec<&str> = scenarios
        .iter()
        .filter(|s| s["outcome"] == "skipped")
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(
        skipped.iter().all(|id| id.starts_with("load/")),
        "only the load phases wait for --load: {skipped:?}"
    );
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(
        scenarios.len() >= 55,
        "the whole suite ran: {}",
        scenarios.len()
    );

    // The load phases, bounded as `validate` bounds them: 20 users; the sustained phase 5 s.
    for (scenario, bound) in [
        (
            "scenarios/load/concurrent_flows.yaml",
            vec!["--users", "20"],
        ),
        (
            "scenarios/load/sustained_load.yaml",
            vec!["--users", "10", "--duration", "5s"],
        ),
    ] {
        let env = load_env.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_flowgate"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args([
                    "load",
                    scenario,
                    "--target",
                    "scenarios/reference.target.yaml",
                    "-q",
                ])
                .args(bound)
                .envs(env)
                .output()
        })
        .await
        .expect("the load task")
        .expect("flowgate load runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
