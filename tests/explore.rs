//! Issue 12's acceptance for `flowgate explore`, from the outside: the real binary against
//! the reference server, in-process (`--reference`) and as a separate process.
//! - against the correct server, five seeds break no property;
//! - the same seed gives the same walk;
//! - each defect that only a property catches is found, shrunk to at most 15 steps, and
//!   the shrunk scenario, replayed with `flowgate run`, fails against the defective server
//!   and passes against the correct one;
//! - exit codes as `run`: 2 for a profile without `explore:`, 3 for an unreachable target.

mod separate_server;

use separate_server::{flowgate, SeparateServer};

const PROFILE: &str = "scenarios/reference.target.yaml";

/// `flowgate explore --reference ARGS… -q --out DIR`; (exit code, output).
fn explore_reference(args: &[&str], out: &std::path::Path) -> (Option<i32>, String) {
    let o = flowgate()
        .args(["explore", "--reference", "-q", "--out"])
        .arg(out)
        .args(args)
        .output()
        .expect("flowgate runs");
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn five_seeds_against_the_correct_server_break_no_property() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Five servers and walks at once: a walk mostly waits on its server.
    let walks: Vec<(u64, Option<i32>, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=5u64)
            .map(|seed| {
                let out = dir.path().join(format!("seed-{seed}"));
                s.spawn(move || {
                    let (code, printed) =
                        explore_reference(&["--seed", &seed.to_string(), "--steps", "300"], &out);
                    (seed, code, printed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("the walk's thread"))
            .collect()
    });
    for (seed, code, printed) in walks {
        let out = dir.path().join(format!("seed-{seed}"));
        assert_eq!(code, Some(0), "seed {seed}:\n{printed}");
        assert!(printed.contains("every property holds"), "{printed}");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
                .expect("JSON");
        let ids: Vec<&str> = report["scenarios"]
            .as_array()
            .expect("scenarios")
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        assert_eq!(ids.first(), Some(&"explore/walk"), "{ids:?}");
        assert_eq!(ids.len(), 9, "the walk and eight properties: {ids:?}");
        // The walk leaves nothing behind.
        let care = &report["scenarios"][0]["cleanup"];
        assert_eq!(care["created"], care["deleted"], "{care}");
        assert!(care["created"].as_u64() > Some(20), "{care}");
    }
}

#[test]
fn the_same_seed_gives_the_same_walk() {
    let plan = |seed: &str| {
        let o = flowgate()
            .args([
                "explore",
                "--target",
                PROFILE,
                "--print-plan",
                "--steps",
                "200",
                "--seed",
                seed,
            ])
            .output()
            .expect("flowgate runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let first = plan("7");
    assert_eq!(first, plan("7"));
    assert_ne!(first, plan("8"));
    // Unusual but valid input, derived identities, bursts and re-reads are all in it.
    for expected in [
        "名前",
        "🚀",
        "parallel:",
        "(old)",
        "removed]",
        "corrupted]",
        "(an id nobody created)",
    ] {
        assert!(
            first.contains(expected),
            "no `{expected}` in the walk:\n{first}"
        );
    }
}

#[test]
fn an_unusable_profile_is_2_and_an_unreachable_target_is_3() {
    let o = flowgate()
        .args(["explore", "--target", "scenarios/seed/seed.target.yaml"])
        .output()
        .expect("flowgate runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `explore:` section"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let o = flowgate()
        .args(["explore", "--target", PROFILE, "--steps", "10"])
        .env("FLOWGATE_BASE_URL", format!("http://127.0.0.1:{port}"))
        .envs(
            [
                "FLOWGATE_TENANT_A_KEY",
                "FLOWGATE_TENANT_A_ACCOUNT",
                "FLOWGATE_TENANT_A_ENGAGEMENT",
                "FLOWGATE_TENANT_A_OTHER_ENGAGEMENT",
                "FLOWGATE_TENANT_B_KEY",
                "FLOWGATE_TENANT_B_ACCOUNT",
                "FLOWGATE_TENANT_B_ENGAGEMENT",
            ]
            .map(|k| (k, "x")),
        )
        .output()
        .expect("flowgate runs");
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Explores the reference with `defect` until `property` breaks, checks the shrunk repro
/// (at most 15 steps), and replays it with `flowgate run` against a separate server with
/// the defect (fails, on that property) and one without (passes).
async fn found_shrunk_and_replayed(defect: &str, property: &str, seed: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join(defect);
    let (code, printed) = explore_reference(
        &["--defect", defect, "--steps", "2000", "--seed", seed],
        &out,
    );
    assert_eq!(code, Some(1), "{defect}: explore found nothing\n{printed}");
    assert!(
        printed.contains(&format!("BROKEN: {property} after")),
        "{defect}:\n{printed}"
    );
    let steps: usize = printed
        .split("shrunk to ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{defect}: not shrunk\n{printed}"));
    assert!(steps <= 15, "{defect}: repro of {steps} steps\n{printed}");
    let repro = out.join(format!("repro-{property}.yaml"));
    let repro_path = repro.to_str().expect("a UTF-8 path");
    let run =
        |server: &SeparateServer| server.flowgate(&["run", repro_path, "--target", PROFILE, "-q"]);

    let defective = SeparateServer::start(&[defect]).await;
    let (code, printed) = run(&defective);
    assert_eq!(code, Some(1), "{defect}: the repro passed\n{printed}");
    assert!(
        printed.contains(&format!("properties/{property}")),
        "{defect}:\n{printed}"
    );
    drop(defective);
    let correct = SeparateServer::start(&[]).await;
    let (code, printed) = run(&correct);
    assert_eq!(
        code,
        Some(0),
        "{defect}: the repro fails the correct server\n{printed}"
    );
}

// The defects that no scenario reliably catches, each with the property that does.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_shrinks_when_another_tenant_writes_breaks_aggregates() {
    found_shrunk_and_replayed("paging-ignores-tenant", "aggregates", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_flow_that_reads_running_later_breaks_state_history() {
    found_shrunk_and_replayed("terminal-reopens", "state_history", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_a_non_ascii_name_breaks_no_server_errors() {
    found_shrunk_and_replayed("non-ascii-name-error", "no_server_errors", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_that_did_not_happen_breaks_deletes_are_final() {
    // Needs a pause that lands, then a delete of that flow while it is paused: seed 1
    // finds it after 1 700 steps, seed 3 after 100 (seed 2 not within 2 000).
    found_shrunk_and_replayed("delete-lost-while-paused", "deletes_are_final", "3").await;
}
