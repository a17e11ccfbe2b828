//! `report diff`: regressions, fixes, added/removed checks, performance changes.

mod common;

use flowgate_reports::diff::Direction;
use flowgate_reports::*;

#[test]
fn fixing_the_seed_failures_is_not_a_regression() {
    let old = common::seed_run();
    let mut new = old.clone();
    for s in &mut new.scenarios {
        s.outcome = Outcome::Passed;
    }
    let d = diff(&old, &new, 10.0);
    assert!(!d.has_regressions());
    assert_eq!(d.fixed.len(), 3);
    assert!(d.still_failing.is_empty());
}

#[test]
fn regression_added_removed_and_performance() {
    let old = common::seed_run();
    let mut new = old.clone();
    // Health regresses, error handling is fixed, one check removed, one added.
    for s in &mut new.scenarios {
        match s.id.as_str() {
            "seed/backend_health" => s.outcome = Outcome::Error,
            "seed/error_handling" => s.outcome = Outcome::Passed,
            "seed/api_performance_health" => s.measurements[0].value = 60.0, // 30.4 → 60: +97%
            "seed/api_performance_initialize" => s.measurements[0].value = 69.0, // +4.5%: within 10%
            _ => {}
        }
    }
    new.scenarios
        .retain(|s| s.id != "seed/concurrent_flow_creation");
    new.scenarios.push(common::scenario(
        "seed/new_check",
        "New check",
        "health",
        Severity::Low,
        Outcome::Failed,
    ));
    let d = diff(&old, &new, 10.0);
    assert!(d.has_regressions());
    assert_eq!(d.regressions.len(), 1);
    assert_eq!(d.regressions[0].id, "seed/backend_health");
    assert_eq!(
        (d.regressions[0].old, d.regressions[0].new),
        (Outcome::Passed, Outcome::Error)
    );
    assert_eq!(
        d.fixed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["seed/error_handling"]
    );
    assert_eq!(d.still_failing.len(), 2);
    assert_eq!(d.added.len(), 1);
    assert_eq!(d.removed.len(), 1);
    assert_eq!(d.removed[0].id, "seed/concurrent_flow_creation");
    assert_eq!(d.performance.len(), 1, "{:?}", d.performance);
    assert_eq!(d.performance[0].direction, Direction::Worse);
    let text = render_diff_text(&d);
    insta::assert_snapshot!("diff_text", text);
    assert!(text.contains("REGRESSIONS (1):"));
    assert!(text.contains("30.4 ms -> 60.0 ms (+97.4%)"));
}

#[test]
fn waived_to_failed_is_a_regression_and_load_figures_compare() {
    let old = common::complex_run();
    let mut new = old.clone();
    for s in &mut new.scenarios {
        if s.outcome == Outcome::Waived {
            s.outcome = Outcome::Failed;
        }
    }
    new.load[0].requests[1].p95_ms = 40.0; // 52 → 40: better
    new.load[0].requests[1].rps = 50.0; // 100 → 50: worse
    let d = diff(&old, &new, 10.0);
    assert_eq!(d.regressions.len(), 1);
    assert_eq!(d.regressions[0].id, "flow_execution/discovery_completes");
    let dirs: Vec<(String, Direction)> = d
        .performance
        .iter()
        .map(|p| (p.metric.clone(), p.direction))
        .collect();
    assert_eq!(
        dirs,
        [
            ("create flow p95".to_string(), Direction::Better),
            ("create flow throughput".to_string(), Direction::Worse)
        ]
    );
}

#[test]
fn latency_noise_under_the_floor_is_not_a_performance_change() {
    let mut old = common::seed_run();
    let (si, mi) = old
        .scenarios
        .iter()
        .enumerate()
        .find_map(|(i, s)| {
            s.measurements
                .iter()
                .position(|m| m.unit == "ms")
                .map(|m| (i, m))
        })
        .unwrap_or_else(|| panic!("the seed run has a latency measurement"));
    // 2.0 ms → 4.5 ms is +125 % on a fast endpoint, and nothing.
    old.scenarios[si].measurements[mi].value = 2.0;
    let mut new = old.clone();
    new.scenarios[si].measurements[mi].value = 4.5;
    let d = diff(&old, &new, 10.0);
    assert!(d.performance.is_empty(), "{:?}", d.performance);
    // With the floor at 0 the same change is listed.
    let d = diff_with_floor(&old, &new, 0.0, 0.0);
    assert_eq!(d.performance.len(), 1);
}

#[test]
fn runs_of_different_suites_targets_and_filters_are_flagged() {
    let mut old = common::seed_run();
    old.selection.suite_digest = Some("a".repeat(64));
    let mut new = old.clone();
    assert!(comparability(&old, &new).is_empty());
    new.selection.suite_digest = Some("b".repeat(64));
    new.selection.filters = vec!["--tag p0".into()];
    new.target.base_url = "http://127.0.0.1:9999".into();
    let why = comparability(&old, &new);
    assert_eq!(why.len(), 3, "{why:?}");
    let d = diff(&old, &new, 10.0);
    assert!(render_diff_text(&d).starts_with("warning: not like for like: the suites differ"));
}
