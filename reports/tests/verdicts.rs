//! The verdict a release manager reads: one line, right under every policy, filter and
//! waiver, with the exit code CI gates on. Each case here is a verdict that was once
//! wrong (issue: "Sign-off you can trust").

mod common;

use common::{scenario, today};
use flowgate_reports::*;

/// The headline, the executive summary's verdict sentence, and the exit code.
fn verdict_of(r: &RunReport) -> String {
    let md = render_markdown(r);
    let status = md
        .lines()
        .find(|l| l.starts_with("### Overall Status"))
        .unwrap_or("(no status line)")
        .to_string();
    let summary = md
        .lines()
        .skip_while(|l| !l.starts_with("## Executive Summary"))
        .nth(2)
        .unwrap_or("(no summary)")
        .to_string();
    format!("{status}\nexit {}\n{summary}", r.exit_code())
}

fn with_suite(mut r: RunReport, categories: &[&str], filters: &[&str]) -> RunReport {
    r.selection = Selection {
        suite_categories: categories.iter().map(|c| c.to_string()).collect(),
        suite_scenarios: 10,
        filters: filters.iter().map(|f| f.to_string()).collect(),
        suite_digest: None,
        certify: false,
        min_coverage: None,
    };
    r
}

fn empty_run() -> RunReport {
    let mut r = common::passing_run();
    r.scenarios.clear();
    r.load.clear();
    r
}

#[test]
fn nothing_selected_is_no_verdict_and_exit_1() {
    let r = with_suite(empty_run(), &["health"], &["--tag nosuchtag"]);
    assert_eq!(r.verdict(), Verdict::NoVerdict);
    assert_eq!(r.exit_code(), 1);
    insta::assert_snapshot!(verdict_of(&r));
}

#[test]
fn an_empty_suite_is_no_verdict_even_unfiltered() {
    let r = with_suite(empty_run(), &[], &[]);
    assert_eq!(r.verdict(), Verdict::NoVerdict);
    assert_eq!(r.exit_code(), 1);
    assert!(status_words(&r).starts_with("NO VERDICT"));
}

#[test]
fn every_check_skipped_is_no_verdict() {
    let mut r = empty_run();
    r.scenarios.push(scenario(
        "flow_execution/transient_fault_retried",
        "Transient fault is retried",
        "flow_execution",
        Severity::High,
        Outcome::Skipped,
    ));
    let r = with_suite(r, &["flow_execution"], &[]);
    assert_eq!(r.verdict(), Verdict::NoVerdict);
    insta::assert_snapshot!(verdict_of(&r));
}

#[test]
fn a_low_failure_under_fail_on_high_says_so_in_the_headline() {
    let mut r = empty_run();
    r.policy = GatingPolicy {
        fail_on: Some(Severity::High),
    };
    r.scenarios.push(scenario(
        "performance/latency",
        "Latency",
        "performance",
        Severity::Low,
        Outcome::Failed,
    ));
    let r = with_suite(r, &["performance"], &[]);
    assert_eq!(r.verdict(), Verdict::Pass);
    assert_eq!(r.exit_code(), 0);
    insta::assert_snapshot!(verdict_of(&r));
}

#[test]
fn a_waived_critical_failure_is_ready_with_waivers_naming_owner_and_expiry() {
    let mut r = common::passing_run();
    let mut s = scenario(
        "tenant_isolation/access_matrix",
        "Cross-tenant access matrix",
        "tenant_isolation",
        Severity::Critical,
        Outcome::Failed,
    );
    waive(
        &mut s,
        &WaiverEntry {
            scenario: "tenant_isolation/access_matrix".into(),
            owner: "security@example.com".into(),
            reason: "row-level security ships in 2.2".into(),
            expires: today() + chrono::Days::new(30),
        },
        today(),
    );
    r.scenarios.push(s);
    let categories: Vec<String> = r.scenarios.iter().map(|s| s.category.clone()).collect();
    let categories: Vec<&str> = categories.iter().map(String::as_str).collect();
    let r = with_suite(r, &categories, &[]);
    assert_eq!(r.verdict(), Verdict::PassWithWaivers);
    assert_eq!(r.exit_code(), 0);
    let v = verdict_of(&r);
    assert!(v.contains("READY WITH WAIVERS"), "{v}");
    assert!(v.contains("security@example.com"), "{v}");
}

#[test]
fn a_category_that_ran_nothing_blocks_an_unfiltered_sign_off() {
    let r = with_suite(
        common::passing_run(),
        &["health", "flow_creation", "concurrency", "load"],
        &[],
    );
    assert_eq!(r.verdict(), Verdict::Untested);
    assert_eq!(r.exit_code(), 1);
    insta::assert_snapshot!(verdict_of(&r));
}

#[test]
fn a_filtered_run_passes_but_names_its_filter_and_is_no_full_sign_off() {
    let r = with_suite(
        common::passing_run(),
        &["health", "flow_creation", "concurrency", "load"],
        &["--tag p0"],
    );
    assert_eq!(r.verdict(), Verdict::Pass);
    assert_eq!(r.exit_code(), 0);
    insta::assert_snapshot!(verdict_of(&r));
}

#[test]
fn a_failure_beats_an_untested_category_and_an_error_beats_both() {
    let mut r = common::passing_run();
    r.scenarios[0].outcome = Outcome::Failed;
    let mut r = with_suite(r, &["health", "concurrency"], &[]);
    assert_eq!(r.verdict(), Verdict::Fail);
    r.scenarios[1].outcome = Outcome::Error;
    assert_eq!(r.verdict(), Verdict::Error);
    assert_eq!(r.exit_code(), 3);
}

#[test]
fn an_old_result_file_without_a_selection_still_gets_a_verdict() {
    // Reports written before `selection` existed: no categories known, no filter.
    let r = common::passing_run();
    assert_eq!(r.selection, Selection::default());
    assert_eq!(r.verdict(), Verdict::Pass);
}

#[test]
fn certify_with_a_must_that_did_not_pass_is_not_certified_and_exit_1() {
    let mut r = with_suite(common::passing_run(), &[], &[]);
    r.selection.certify = true;
    assert_eq!(r.verdict(), Verdict::Pass, "every must passed");
    assert!(status_words(&r).contains("CERTIFIED (every must requirement ran and passed)"));
    // A must that failed below the gating threshold still blocks certification.
    r.policy.fail_on = Some(Severity::Critical);
    let first = &mut r.scenarios[0];
    first.level = Level::Must;
    first.severity = Severity::Low;
    first.outcome = Outcome::Failed;
    assert_eq!(r.verdict(), Verdict::NotCertified);
    assert_eq!(r.exit_code(), 1);
    insta::assert_snapshot!(verdict_of(&r));
}
