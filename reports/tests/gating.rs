//! Waivers and the gating policy applied to a run.

mod common;

use chrono::NaiveDate;
use flowgate_reports::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

const WAIVERS: &str = "\
waivers:
  - scenario: seed/multi_tenant_isolation
    owner: security@example.com
    reason: row-level security ships in 2.2
    expires: 2026-12-31
  - scenario: Error Handling
    owner: api@example.com
    reason: accepted for the October release
    expires: 2026-10-31
  - scenario: seed/no_such_scenario
    owner: nobody@example.com
    reason: stale
    expires: 2027-01-31
  - scenario: seed/backend_health
    owner: ops@example.com
    reason: was flaky
    expires: 2027-01-31
";

#[test]
fn current_waiver_waives_and_expired_waiver_fails() {
    let waivers = match parse_waivers(WAIVERS, "waivers.yaml") {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    let mut r = common::seed_run();
    let warnings = apply_waivers(&mut r, &waivers, date(2026, 11, 29));
    let by_id = |id: &str| r.scenarios.iter().find(|s| s.id == id).cloned();

    let tenancy = by_id("seed/multi_tenant_isolation");
    assert_eq!(tenancy.as_ref().map(|s| s.outcome), Some(Outcome::Waived));
    let w = tenancy.and_then(|s| s.waiver);
    assert_eq!(w.as_ref().map(|w| w.expired), Some(false));
    assert_eq!(w.map(|w| w.owner), Some("security@example.com".to_string()));

    // Matched by name; expired the day before yesterday's month end: still failed.
    let errors = by_id("seed/error_handling");
    assert_eq!(errors.as_ref().map(|s| s.outcome), Some(Outcome::Failed));
    assert_eq!(errors.and_then(|s| s.waiver).map(|w| w.expired), Some(true));

    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].contains("expired on 2026-10-31"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("seed/no_such_scenario")
            && warnings[1].contains("matches no scenario")
    );
    assert!(warnings[2].contains("no longer needed"));

    // Still failing: execution is critical and unwaived, error handling's waiver expired.
    assert_eq!(r.verdict(), Verdict::Fail);
    let s = r.summary();
    assert_eq!((s.passed, s.failed, s.waived), (5, 2, 1));
    let md = render_markdown(&r);
    assert!(md.contains("Waiver expired on 2026-10-31 (owner: api@example.com"));
    assert!(md.contains("**Success Rate**: 62.5% (5/8 tests passed)"));
}

#[test]
fn waiver_is_valid_through_its_last_day() {
    let waivers = Waivers {
        waivers: vec![WaiverEntry {
            scenario: "seed/error_handling".into(),
            owner: "o".into(),
            reason: "r".into(),
            expires: date(2026, 11, 29),
        }],
    };
    let mut on_the_day = common::seed_run();
    apply_waivers(&mut on_the_day, &waivers, date(2026, 11, 29));
    let mut day_after = common::seed_run();
    apply_waivers(&mut day_after, &waivers, date(2026, 11, 30));
    let outcome = |r: &RunReport| {
        r.scenarios
            .iter()
            .find(|s| s.id == "seed/error_handling")
            .map(|s| s.outcome)
    };
    assert_eq!(outcome(&on_the_day), Some(Outcome::Waived));
    assert_eq!(outcome(&day_after), Some(Outcome::Failed));
}

#[test]
fn waiving_every_failure_makes_the_run_pass() {
    let mut r = common::seed_run();
    let waivers = Waivers {
        waivers: [
            "seed/discovery_flow_execution",
            "seed/error_handling",
            "seed/multi_tenant_isolation",
        ]
        .iter()
        .map(|id| WaiverEntry {
            scenario: id.to_string(),
            owner: "o".into(),
            reason: "r".into(),
            expires: date(2027, 1, 1),
        })
        .collect(),
    };
    assert!(apply_waivers(&mut r, &waivers, common::today()).is_empty());
    assert_eq!(r.exit_code(), 0);
    // Waived failures do not count as passed.
    assert!(render_markdown(&r).contains("**Success Rate**: 62.5% (5/8 tests passed)"));
}

#[test]
fn fail_on_critical_ignores_the_moderate_failure() {
    let mut r = common::seed_run();
    r.policy = match parse_fail_on("critical") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.verdict(), Verdict::Fail); // two critical failures remain
    r.scenarios
        .retain(|s| s.severity != Severity::Critical || s.outcome == Outcome::Passed);
    assert_eq!(r.verdict(), Verdict::Pass);
}

#[test]
fn waiver_file_errors_name_file_line_and_column() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let path = dir.path().join("waivers.yaml");
    let text = "waivers:\n  - scenario: a\n    owner: o\n    reason: r\n    expires: 2026-12-31\n    ticket: JIRA-1\n";
    if let Err(e) = std::fs::write(&path, text) {
        panic!("{e}");
    }
    let err = load_waivers(&path)
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        format!(
            "{}:6:5: waivers[0]: unknown field `ticket`, expected one of `scenario`, `owner`, `reason`, `expires`",
            path.display()
        )
    );
    let missing = load_waivers(&dir.path().join("nope.yaml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(missing.contains("nope.yaml"), "{missing}");
}
