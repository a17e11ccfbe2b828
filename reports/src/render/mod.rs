//! The four renderers, and the view of a run they share.
//!
//! Every renderer walks the same [`Check`] list, sorted the same way (category in a fixed
//! order, then id), so that outputs are deterministic and tell the same story.

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;

use crate::model::{
    Failure, LoadResult, Outcome, RunReport, ScenarioResult, Severity, StepResult, Verdict, Waiver,
    PROPERTIES_CATEGORY,
};

/// Appends one formatted line (with its newline) to a `String`; writing to a `String`
/// cannot fail, so the `fmt::Result` is dropped here once instead of at every call.
macro_rules! line {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
        $out.push('\n');
    }};
}
pub(crate) use line;

/// The categories of the conformance suite, in the order reports show them; other
/// categories follow alphabetically.
const CATEGORY_ORDER: &[&str] = &[
    "health",
    "flow_creation",
    "flow_execution",
    "error_handling",
    "tenant_isolation",
    "concurrency",
    "performance",
    "load",
];

pub(crate) fn category_rank(category: &str) -> usize {
    CATEGORY_ORDER
        .iter()
        .position(|c| *c == category)
        .unwrap_or(CATEGORY_ORDER.len())
}

/// Sort key of a category: known ones in suite order, then the rest by name.
pub(crate) fn category_key(category: &str) -> (usize, &str) {
    (category_rank(category), category)
}

/// Human name of a category ("tenant_isolation" → "Multi-tenant Isolation").
pub(crate) fn category_title(category: &str) -> String {
    match category {
        "health" => "Health Checks".into(),
        "flow_creation" => "Flow Creation".into(),
        "flow_execution" => "Flow Execution".into(),
        "error_handling" => "Error Handling".into(),
        "tenant_isolation" => "Multi-tenant Isolation".into(),
        "concurrency" => "Concurrency".into(),
        "performance" => "Performance".into(),
        "load" => "Load".into(),
        "properties" => "Properties of the whole run".into(),
        other => other
            .split(['_', '-', ' '])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

pub(crate) fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Moderate => "MODERATE",
        Severity::Low => "LOW",
    }
}

/// What a check is: a scenario or a load phase.
#[derive(Clone, Copy)]
pub(crate) enum CheckSource<'a> {
    Scenario(&'a ScenarioResult),
    Load(&'a LoadResult),
}

/// One line of the run as every renderer sees it.
#[derive(Clone, Copy)]
pub(crate) struct Check<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub severity: Severity,
    pub outcome: Outcome,
    pub duration_ms: u64,
    pub source: CheckSource<'a>,
}

impl<'a> Check<'a> {
    pub fn description(&self) -> Option<&'a str> {
        match self.source {
            CheckSource::Scenario(s) => s.description.as_deref().map(first_line),
            CheckSource::Load(_) => None,
        }
    }

    pub fn remediation(&self) -> Option<&'a str> {
        match self.source {
            CheckSource::Scenario(s) => s
                .remediation
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty()),
            CheckSource::Load(l) => l
                .remediation
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty()),
        }
    }

    /// The scenario's "fails when" prose: context for a reader, not the finding.
    pub fn fails_when(&self) -> Option<&'a str> {
        match self.source {
            CheckSource::Scenario(s) => s.fails_when.as_deref(),
            CheckSource::Load(l) => l.fails_when.as_deref(),
        }
        .map(str::trim)
        .filter(|r| !r.is_empty())
    }

    pub fn waiver(&self) -> Option<&'a Waiver> {
        match self.source {
            CheckSource::Scenario(s) => s.waiver.as_ref(),
            CheckSource::Load(_) => None,
        }
    }

    /// A failed check whose expired waiver no longer covers it.
    pub fn expired_waiver(&self) -> Option<&'a Waiver> {
        self.waiver().filter(|w| w.expired)
    }

    /// One sentence for the "passed" list.
    pub fn passed_note(&self) -> String {
        match self.source {
            CheckSource::Scenario(s) => match self.description() {
                Some(d) if !d.trim().is_empty() => d.trim().to_string(),
                _ if !s.measurements.is_empty() => s
                    .measurements
                    .iter()
                    .map(|m| {
                        format!(
                            "{} {} (target {})",
                            m.metric,
                            fmt_value(m.value, &m.unit),
                            m.target
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => format!("{} step{} passed", s.steps.len(), plural(s.steps.len())),
            },
            CheckSource::Load(l) => format!(
                "{} users for {}, {} of {} thresholds met",
                l.users,
                fmt_duration(l.duration_ms),
                l.thresholds.iter().filter(|t| t.passed).count(),
                l.thresholds.len()
            ),
        }
    }

    /// What was observed when the check did not pass (failures, errors, unmet thresholds).
    pub fn findings(&self) -> Vec<Finding<'a>> {
        match self.source {
            CheckSource::Scenario(s) => scenario_findings(s),
            CheckSource::Load(l) => load_findings(l),
        }
    }

    /// Why a skipped check did not run, as far as the result says.
    pub fn skip_reason(&self) -> String {
        if let CheckSource::Scenario(s) = self.source {
            for step in &s.steps {
                if let Some(summary) = step.summary.as_deref() {
                    return summary.to_string();
                }
                if let Some(f) = &step.failure {
                    return f.message.clone();
                }
            }
        }
        "not run".to_string()
    }
}

/// One observation of a failing check: a failed step, or an unmet threshold.
pub(crate) struct Finding<'a> {
    /// Step path ("create flow > poll status") or the load request the threshold names.
    pub step: String,
    pub message: String,
    pub failure: Option<&'a Failure>,
    pub states_seen: &'a [String],
}

fn scenario_findings(s: &ScenarioResult) -> Vec<Finding<'_>> {
    let mut out = Vec::new();
    for step in &s.steps {
        collect_step_findings(step, "", &mut out);
    }
    if out.is_empty()
        && matches!(
            s.outcome,
            Outcome::Failed | Outcome::Error | Outcome::Waived
        )
    {
        // No failure record: fall back to the summaries of the steps that did not pass.
        for step in s.steps.iter().filter(|st| st.outcome != Outcome::Passed) {
            out.push(Finding {
                step: step.name.clone(),
                message: step
                    .summary
                    .clone()
                    .unwrap_or_else(|| format!("step {}", step.outcome.as_str())),
                failure: None,
                states_seen: &step.states_seen,
            });
        }
        if out.is_empty() {
            out.push(Finding {
                step: String::new(),
                message: format!("{} (no details recorded)", s.outcome.as_str()),
                failure: None,
                states_seen: &[],
            });
        }
    }
    out
}

fn collect_step_findings<'a>(step: &'a StepResult, parent: &str, out: &mut Vec<Finding<'a>>) {
    let path = if parent.is_empty() {
        step.name.clone()
    } else {
        format!("{parent} > {}", step.name)
    };
    if let Some(f) = &step.failure {
        let duplicate = out
            .iter()
            .any(|o| o.failure.is_some_and(|of| of.message == f.message));
        if !duplicate {
            out.push(Finding {
                step: path.clone(),
                message: f.message.clone(),
                failure: Some(f),
                states_seen: &step.states_seen,
            });
        }
    }
    for child in &step.children {
        collect_step_findings(child, &path, out);
    }
}

fn load_findings(l: &LoadResult) -> Vec<Finding<'_>> {
    let mut out: Vec<Finding<'_>> = l
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| Finding {
            step: t.request.clone().unwrap_or_else(|| "all requests".into()),
            message: format!("threshold {} not met: {}", t.expression, t.observation()),
            failure: None,
            states_seen: &[],
        })
        .collect();
    if let Some(f) = &l.flows {
        if f.failed + f.timed_out > 0 {
            out.push(Finding {
                step: "flows".into(),
                message: format!(
                    "{} of {} flows completed ({} failed, {} timed out)",
                    f.completed, f.created, f.failed, f.timed_out
                ),
                failure: None,
                states_seen: &[],
            });
        }
    }
    if out.is_empty() && l.outcome != Outcome::Passed {
        let message = l
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| format!("load phase {}", l.outcome.as_str()));
        out.push(Finding {
            step: String::new(),
            message,
            failure: None,
            states_seen: &[],
        });
    }
    out
}

/// Every check of the run (scenarios and load phases), in report order.
pub(crate) fn checks(report: &RunReport) -> Vec<Check<'_>> {
    let mut all: Vec<Check<'_>> = report
        .scenarios
        .iter()
        .map(|s| Check {
            id: &s.id,
            name: &s.name,
            category: &s.category,
            severity: s.severity,
            outcome: s.outcome,
            duration_ms: s.duration_ms,
            source: CheckSource::Scenario(s),
        })
        .chain(report.load.iter().map(|l| Check {
            id: &l.id,
            name: &l.name,
            category: "load",
            severity: l.severity,
            outcome: l.outcome,
            duration_ms: l.duration_ms,
            source: CheckSource::Load(l),
        }))
        .collect();
    all.sort_by(|a, b| {
        category_key(a.category)
            .cmp(&category_key(b.category))
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.name.cmp(b.name))
    });
    all
}

/// Checks with the given outcome, most severe first (then report order).
pub(crate) fn checks_with<'a>(all: &[Check<'a>], outcome: Outcome) -> Vec<Check<'a>> {
    let mut v: Vec<Check<'a>> = all
        .iter()
        .filter(|c| c.outcome == outcome)
        .copied()
        .collect();
    if outcome != Outcome::Passed {
        v.sort_by_key(|c| c.severity);
    }
    v
}

/// Categories present in the run, in report order.
pub(crate) fn categories<'a>(all: &[Check<'a>]) -> Vec<&'a str> {
    let mut cats: Vec<&str> = all.iter().map(|c| c.category).collect();
    cats.sort_by(|a, b| category_key(a).cmp(&category_key(b)));
    cats.dedup();
    cats
}

/// The headline status: one line, right under every gating policy and every filter.
/// Every renderer and the console print this and nothing else as the verdict.
pub fn status_words(report: &RunReport) -> String {
    let s = report.summary();
    let filtered = || {
        format!(
            "PASSED FOR A FILTERED RUN ({}) — NOT A FULL SIGN-OFF",
            report.selection.filters.join(", ")
        )
    };
    match report.verdict() {
        Verdict::NoVerdict => "NO VERDICT: nothing was checked".to_string(),
        Verdict::Error => "NOT PRODUCTION READY (incomplete: infrastructure errors)".to_string(),
        Verdict::Fail => "NOT PRODUCTION READY".to_string(),
        Verdict::InsufficientCoverage => format!(
            "NOT PRODUCTION READY (API coverage {} < {:.1}%)",
            coverage_percent_text(report),
            report.selection.min_coverage.unwrap_or(0.0)
        ),
        Verdict::NotCertified => format!(
            "NOT CERTIFIED ({} must requirement{} did not pass)",
            report.musts_not_passed().len(),
            plural(report.musts_not_passed().len())
        ),
        Verdict::Untested => format!(
            "NOT PRODUCTION READY (not tested: {})",
            report.untested_categories().join(", ")
        ),
        Verdict::Pass | Verdict::PassWithWaivers if !report.selection.filters.is_empty() => {
            filtered()
        }
        Verdict::PassWithWaivers => format!(
            "READY WITH WAIVERS ({} waived failure{})",
            s.waived,
            plural(s.waived)
        ),
        Verdict::Pass if s.failed > 0 => format!(
            "PRODUCTION READY UNDER --fail-on {} ({} non-blocking failure{})",
            report
                .policy
                .fail_on
                .map(|sev| sev.as_str())
                .unwrap_or("any"),
            s.failed,
            plural(s.failed)
        ),
        Verdict::Pass if report.selection.certify => {
            "PRODUCTION READY — CERTIFIED (every must requirement ran and passed)".to_string()
        }
        Verdict::Pass => "PRODUCTION READY".to_string(),
    }
}

/// The facts a sign-off needs to be reproduced and trusted, in header order: when, how
/// long, with what tool and suite, against what, under which policy, and the counts.
pub fn header_facts(report: &RunReport) -> Vec<(&'static str, String)> {
    let s = report.summary();
    let sel = &report.selection;
    let tool = match &report.tool.commit {
        Some(c) => format!("{} {} (commit {c})", report.tool.name, report.tool.version),
        None => format!(
            "{} {} (commit unknown)",
            report.tool.name, report.tool.version
        ),
    };
    let properties = property_checks(report);
    let suite = match &sel.suite_digest {
        Some(d) => format!(
            "sha256:{} ({} of {} scenarios selected{})",
            d.get(..16).unwrap_or(d),
            report.scenarios.len() + report.load.len() - properties,
            sel.suite_scenarios,
            if properties > 0 {
                format!("; {properties} property checks")
            } else {
                String::new()
            }
        ),
        None => "not recorded".to_string(),
    };
    vec![
        (
            "Started",
            report
                .started_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
        (
            "Duration",
            format!("{:.1} s", report.duration_ms as f64 / 1000.0),
        ),
        ("Tool", tool),
        ("Suite", suite),
        (
            "Filters",
            if sel.filters.is_empty() {
                "none (the whole suite)".to_string()
            } else {
                sel.filters.join(", ")
            },
        ),
        ("Gating policy", policy_sentence(report)),
        ("Target", report.target.base_url.clone()),
        (
            "Profile",
            format!(
                "{}; target version {}; database {}",
                report.target.name,
                report.target.version.as_deref().unwrap_or("not reported"),
                report.target.database.as_deref().unwrap_or("not reported")
            ),
        ),
        ("Levels", level_rates_text(report)),
        ("API coverage", coverage_text(report)),
        ("Target care", target_care(report)),
        (
            "Counts",
            format!(
                "{} passed, {} failed, {} error{}, {} skipped, {} waived (of {})",
                s.passed,
                s.failed,
                s.errored,
                plural(s.errored),
                s.skipped,
                s.waived,
                s.total
            ),
        ),
    ]
}

/// `must 55/56 passed (98.2%); should 8/8 passed (100.0%)`: pass rate per level, of the
/// checks that ran.
pub(crate) fn level_rates_text(report: &RunReport) -> String {
    let rates = report.level_rates();
    if rates.is_empty() {
        return "no check selected".to_string();
    }
    rates
        .iter()
        .map(|(level, passed, ran, selected)| {
            let rate = if *ran == 0 {
                "none ran".to_string()
            } else {
                format!("{:.1}%", *passed as f64 * 100.0 / *ran as f64)
            };
            let skipped = selected - ran;
            format!(
                "{} {passed}/{ran} passed ({rate}){}",
                level.as_str(),
                if skipped > 0 {
                    format!(", {skipped} skipped")
                } else {
                    String::new()
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `63.2%`, or `not measured`.
fn coverage_percent_text(report: &RunReport) -> String {
    match report.coverage.as_ref().and_then(|c| c.percent()) {
        Some(p) => format!("{p:.1}%"),
        None => "not measured".to_string(),
    }
}

/// `63.2% of documented responses (48/76); 21/21 operations; 2 undocumented statuses seen`.
pub(crate) fn coverage_text(report: &RunReport) -> String {
    let Some(c) = &report.coverage else {
        return "not measured (the profile names no `openapi_path`)".to_string();
    };
    if let Some(e) = &c.error {
        return format!("not measured: {e}");
    }
    let (hit, all) = c.response_pairs();
    let mut text = format!(
        "{} of documented responses ({hit}/{all}); {}/{} operations exercised",
        coverage_percent_text(report),
        c.operations_exercised(),
        c.operations.len()
    );
    if !c.undocumented.is_empty() {
        text.push_str(&format!(
            "; {} undocumented status{} seen",
            c.undocumented.len(),
            if c.undocumented.len() == 1 { "" } else { "es" }
        ));
    }
    text
}

/// What the run did to the target besides checking it: redirects followed, resources
/// created and removed.
fn target_care(report: &RunReport) -> String {
    let redirects = if report.target.follows_redirects {
        "redirects followed"
    } else {
        "redirects not followed"
    };
    let cleanup = match (report.target.cleanup, report.cleanup_totals()) {
        (None, _) => "cleanup not configured (the profile declares no `resources`)".to_string(),
        (Some(_), None) => "nothing created".to_string(),
        (Some(on), Some(c)) => format!(
            "{} resource{} created, {} deleted, {} left behind{}",
            c.created,
            plural(c.created),
            c.deleted,
            c.left_behind.len(),
            if on {
                ""
            } else {
                " (profile: `cleanup: false`)"
            }
        ),
    };
    format!("{redirects}; {cleanup}")
}

/// True when the verdict lets a release go (exit 0).
pub(crate) fn is_ready(report: &RunReport) -> bool {
    matches!(report.verdict(), Verdict::Pass | Verdict::PassWithWaivers)
}

/// `62.5% (5/8 tests passed)`.
pub(crate) fn success_rate_text(report: &RunReport) -> String {
    let s = report.summary();
    let ran = s.total - s.skipped;
    format!(
        "{:.1}% ({}/{} tests passed)",
        s.success_rate(),
        s.passed,
        ran
    )
}

/// "System v2.1.0" from the target: its self-reported name and version, else the profile.
pub(crate) fn system_name(report: &RunReport) -> String {
    report
        .target
        .system
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| report.target.name.clone())
}

pub(crate) fn system_version(report: &RunReport) -> Option<String> {
    report
        .target
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            if v.starts_with(|c: char| c.is_ascii_digit()) {
                format!("v{v}")
            } else {
                v.to_string()
            }
        })
}

/// Checks of the run's history (`properties/*`), not scenarios of the suite.
pub(crate) fn property_checks(report: &RunReport) -> usize {
    report
        .scenarios
        .iter()
        .filter(|s| s.category == PROPERTIES_CATEGORY)
        .count()
}

/// One sentence on the gating policy.
pub(crate) fn policy_sentence(report: &RunReport) -> String {
    match report.policy.fail_on {
        None => "a failure of any severity fails the run".into(),
        Some(Severity::Low) => "a failure of any severity fails the run (--fail-on low)".into(),
        Some(s) => format!(
            "only failures of {} severity or worse fail the run (--fail-on {})",
            s.as_str(),
            s.as_str()
        ),
    }
}

/// The executive summary, as plain sentences (renderers escape them).
pub(crate) fn executive_summary(report: &RunReport, all: &[Check<'_>]) -> Vec<String> {
    let s = report.summary();
    let properties = property_checks(report);
    let scenarios = report.scenarios.len() - properties;
    let loads = report.load.len();
    let suite_categories = categories(all)
        .iter()
        .filter(|c| **c != "load" && **c != PROPERTIES_CATEGORY)
        .count();
    let mut what = format!(
        "{} scenario{} in {} categor{}",
        scenarios,
        plural(scenarios),
        suite_categories,
        if suite_categories == 1 { "y" } else { "ies" }
    );
    if loads > 0 {
        what.push_str(&format!(" and {loads} load phase{}", plural(loads)));
    }
    if properties > 0 {
        what.push_str(&format!(
            ", then {properties} propert{} over the run's history",
            if properties == 1 { "y" } else { "ies" }
        ));
    }
    let version = system_version(report)
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let mut sentences = vec![format!(
        "flowgate {} checked {}{} at {} (profile {}) with {} on {}.",
        report.tool.version,
        system_name(report),
        version,
        report.target.base_url,
        report.target.name,
        what,
        report.started_at.format("%Y-%m-%d")
    )];
    if !report.target.defects.is_empty() {
        sentences.push(format!(
            "The target was started with injected defects: {}.",
            report.target.defects.join(", ")
        ));
    }
    let failed = checks_with(all, Outcome::Failed);
    let gating: Vec<&Check<'_>> = failed
        .iter()
        .filter(|c| report.is_gating(c.severity))
        .collect();
    match report.verdict() {
        Verdict::NoVerdict => sentences.push(if s.total == 0 {
            "No check was selected (the paths or filters matched no scenario), so there is no verdict: nothing was checked.".to_string()
        } else {
            format!(
                "{} selected check{} skipped, so there is no verdict: nothing was checked.",
                if s.total == 1 { "The one".to_string() } else { format!("All {}", s.total) },
                if s.total == 1 { " was" } else { "s were" }
            )
        }),
        Verdict::InsufficientCoverage => sentences.push(format!(
            "The run was asked to exercise at least {:.1}% of the documented API responses (--min-coverage) and exercised {}, so it cannot sign the system off.",
            report.selection.min_coverage.unwrap_or(0.0),
            coverage_percent_text(report)
        )),
        Verdict::NotCertified => sentences.push(format!(
            "The run was asked to certify (--certify), and {} must requirement{} did not run and pass: {}; no gating failure blocks the release, but the system is not certified.",
            report.musts_not_passed().len(),
            plural(report.musts_not_passed().len()),
            report.musts_not_passed().join(", ")
        )),
        Verdict::Untested => sentences.push(format!(
            "No check ran in {} of the suite's categories ({}), so the system cannot be signed off as production ready; filter the run on purpose (--tag, --skip-tag, --name) to sign off a part.",
            report.untested_categories().len(),
            report.untested_categories().join(", ")
        )),
        Verdict::Pass | Verdict::PassWithWaivers if !report.selection.filters.is_empty() => {
            sentences.push(format!(
                "The run was filtered ({}): {} of the suite's {} scenarios were selected, and every blocking check among them passed; this is not a sign-off of the whole suite.",
                report.selection.filters.join(", "),
                s.total - property_checks(report),
                report.selection.suite_scenarios
            ))
        }
        Verdict::PassWithWaivers => sentences.push(format!(
            "Every blocking check passed except {} waived failure{}, so the system is ready with waivers: {}.",
            s.waived,
            plural(s.waived),
            all.iter()
                .filter_map(|c| c.waiver().map(|w| (c.name, w)))
                .map(|(name, w)| format!("{name} (owner {}, expires {})", w.owner, w.expires))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Verdict::Pass if s.failed == 0 => sentences.push(format!(
            "Every check that ran passed ({} of {}), so the system is production ready as far as this suite can tell.",
            s.passed,
            s.total - s.skipped
        )),
        Verdict::Pass => sentences.push(format!(
            "{} check{} failed below the gating threshold ({}), so the system is production ready under this policy.",
            s.failed,
            plural(s.failed),
            policy_sentence(report)
        )),
        Verdict::Fail => {
            let mut by_sev = Vec::new();
            for sev in [Severity::Critical, Severity::High, Severity::Moderate, Severity::Low] {
                let n = failed.iter().filter(|c| c.severity == sev).count();
                if n > 0 {
                    by_sev.push(format!("{n} {}", sev.as_str()));
                }
            }
            sentences.push(format!(
                "{} check{} failed ({}), so the system is not production ready; the blocking failure{} {}: {}.",
                s.failed,
                plural(s.failed),
                by_sev.join(", "),
                plural(gating.len()),
                if gating.len() == 1 { "is" } else { "are" },
                gating
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Verdict::Error => sentences.push(format!(
            "{} check{} could not be carried out because of infrastructure errors (the target could not be reached or did not answer), so the run is incomplete and cannot be signed off{}.",
            s.errored,
            plural(s.errored),
            if s.failed > 0 {
                format!("; besides, {} check{} failed", s.failed, plural(s.failed))
            } else {
                String::new()
            }
        )),
    }
    if s.waived > 0 {
        let n = s.waived;
        let verb = if n == 1 { "is" } else { "are" };
        sentences.push(format!(
            "{n} known failure{} {verb} waived and not counted against the verdict.",
            plural(n)
        ));
    }
    let expired = all.iter().filter(|c| c.expired_waiver().is_some()).count();
    if expired > 0 {
        sentences.push(format!(
            "{expired} waiver{} expired and no longer cover{} {} failure{}.",
            plural(expired),
            if expired == 1 { "s" } else { "" },
            if expired == 1 { "its" } else { "their" },
            plural(expired)
        ));
    }
    if s.skipped > 0 {
        let n = s.skipped;
        let verb = if n == 1 { "was" } else { "were" };
        sentences.push(format!(
            "{n} check{} {verb} skipped and not counted in the success rate.",
            plural(n)
        ));
    }
    sentences.push(format!("Gating policy: {}.", policy_sentence(report)));
    sentences
}

/// One item of the sign-off checklist.
pub(crate) struct SignOffItem {
    pub label: String,
    /// None: nothing of this kind ran ("not tested").
    pub ticked: Option<bool>,
    pub note: String,
}

/// The checklist: one item per category of the suite (always listed, "not tested" when
/// the run had none), then the run's other categories, then "Performance Targets Met".
pub(crate) fn sign_off(report: &RunReport, all: &[Check<'_>]) -> Vec<SignOffItem> {
    let mut items = Vec::new();
    let mut cats: Vec<&str> = CATEGORY_ORDER
        .iter()
        .copied()
        .filter(|c| *c != "performance" && *c != "load")
        .collect();
    for c in categories(all) {
        if !cats.contains(&c) && c != "performance" && c != "load" {
            cats.push(c);
        }
    }
    for cat in cats {
        let label = match cat {
            "health" => "Health Checks Passing".to_string(),
            "flow_creation" => "Flow Creation Working".to_string(),
            "flow_execution" => "Flow Execution Working".to_string(),
            "error_handling" => "Error Handling Correct".to_string(),
            "tenant_isolation" => "Multi-tenant Security Verified".to_string(),
            "concurrency" => "Concurrency Safe".to_string(),
            other => format!("{} Passing", category_title(other)),
        };
        let in_cat: Vec<&Check<'_>> = all.iter().filter(|c| c.category == cat).collect();
        items.push(tick(label, &in_cat));
    }
    // Performance: the performance scenarios and every measurement of the run.
    let perf: Vec<&Check<'_>> = all.iter().filter(|c| c.category == "performance").collect();
    let measurements: Vec<bool> = report
        .scenarios
        .iter()
        .flat_map(|s| s.measurements.iter().map(|m| m.passed))
        .collect();
    let mut perf_item = tick("Performance Targets Met".into(), &perf);
    if !measurements.is_empty() {
        let met = measurements.iter().filter(|p| **p).count();
        let all_met = met == measurements.len();
        perf_item.ticked = Some(perf_item.ticked.unwrap_or(true) && all_met);
        let m_note = format!("{met} of {} targets met", measurements.len());
        perf_item.note = if perf.is_empty() {
            m_note
        } else {
            format!("{}; {m_note}", perf_item.note)
        };
    }
    items.push(perf_item);
    let load: Vec<&Check<'_>> = all.iter().filter(|c| c.category == "load").collect();
    let smoke: Vec<&str> = report
        .load
        .iter()
        .filter_map(|l| l.smoke.as_deref())
        .collect();
    if smoke.is_empty() {
        items.push(tick("Load Testing Complete".into(), &load));
    } else {
        // A bounded phase shows the load path works; it is not a load test.
        let mut item = tick("Load Smoke-Tested (not a full load test)".into(), &load);
        item.ticked = None;
        item.note = format!("{}; {}", item.note, smoke.join("; "));
        items.push(item);
    }
    items
}

fn tick(label: String, checks: &[&Check<'_>]) -> SignOffItem {
    let ran: Vec<&&Check<'_>> = checks
        .iter()
        .filter(|c| c.outcome != Outcome::Skipped)
        .collect();
    if ran.is_empty() {
        return SignOffItem {
            label,
            ticked: None,
            note: "not tested".into(),
        };
    }
    let passed = ran.iter().filter(|c| c.outcome == Outcome::Passed).count();
    let mut parts = vec![format!("{passed} of {} passed", ran.len())];
    for (outcome, word) in [
        (Outcome::Failed, "failed"),
        (Outcome::Waived, "waived"),
        (Outcome::Error, "errored"),
    ] {
        let n = ran.iter().filter(|c| c.outcome == outcome).count();
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    SignOffItem {
        label,
        ticked: Some(passed == ran.len()),
        note: parts.join(", "),
    }
}

/// One row of the performance table.
pub(crate) struct PerfRow {
    pub metric: String,
    pub result: String,
    pub target: String,
    pub passed: bool,
}

/// Measurements of every scenario (report order), then load thresholds.
pub(crate) fn perf_rows(all: &[Check<'_>]) -> Vec<PerfRow> {
    let mut rows = Vec::new();
    for c in all {
        match c.source {
            CheckSource::Scenario(s) => {
                for m in &s.measurements {
                    rows.push(PerfRow {
                        metric: m.metric.clone(),
                        result: fmt_value(m.value, &m.unit),
                        target: m.target.clone(),
                        passed: m.passed,
                    });
                }
            }
            CheckSource::Load(l) => {
                for t in &l.thresholds {
                    let scope = t.request.as_deref().unwrap_or("all requests");
                    rows.push(PerfRow {
                        metric: format!(
                            "{} — {scope}: {}",
                            l.name,
                            threshold_metric(&t.expression)
                        ),
                        result: t.observed_text(),
                        target: t.expression.clone(),
                        passed: t.passed,
                    });
                }
            }
        }
    }
    rows
}

/// "p95 < 100ms" → "p95".
/// The statistic a threshold judges: `p95` of `create flow: p95 < 1000ms` (a request
/// name before the colon is not the statistic).
fn threshold_metric(expression: &str) -> &str {
    let rule = match expression.rsplit_once(':') {
        Some((_, rule)) => rule,
        None => expression,
    };
    rule.split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '=')
        .find(|w| !w.is_empty())
        .unwrap_or(expression)
}

/// A value with its unit, one decimal: "42.0 ms", "95.5%", "120.3 req/s", "3".
pub fn fmt_value(value: f64, unit: &str) -> String {
    let v = if value == 0.0 { 0.0 } else { value };
    match unit {
        "%" => format!("{v:.1}%"),
        "count" | "" => {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        }
        other => format!("{v:.1} {other}"),
    }
}

/// "850 ms", "12.3 s", "2 min 5 s".
pub(crate) fn fmt_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub(crate) fn first_line(s: &str) -> &str {
    s.trim().lines().next().unwrap_or("").trim()
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}… (truncated)")
    }
}

/// The failure details as plain text: expected vs actual, states, response, reproducer.
pub(crate) fn finding_details(f: &Finding<'_>) -> String {
    let mut out = String::new();
    if !f.step.is_empty() {
        line!(out, "step: {}", f.step);
    }
    line!(out, "{}", f.message);
    if let Some(fail) = f.failure {
        if let Some(e) = &fail.expected {
            line!(out, "expected: {e}");
        }
        if let Some(a) = &fail.actual {
            line!(out, "actual:   {a}");
        }
    }
    if !f.states_seen.is_empty() {
        line!(out, "states seen: {}", f.states_seen.join(" → "));
    }
    if let Some(fail) = f.failure {
        if let Some(x) = &fail.response_excerpt {
            line!(out, "response: {x}");
        }
        if let Some(c) = &fail.curl {
            line!(out, "reproduce: {c}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_formats_keep_one_decimal() {
        assert_eq!(fmt_value(100.0, "%"), "100.0%");
        assert_eq!(fmt_value(62.5, "%"), "62.5%");
        assert_eq!(fmt_value(42.04, "ms"), "42.0 ms");
        assert_eq!(fmt_value(3.0, "count"), "3");
        assert_eq!(fmt_value(-0.0, "ms"), "0.0 ms");
    }

    #[test]
    fn unknown_categories_are_title_cased_and_sorted_last() {
        assert_eq!(category_title("data_import"), "Data Import");
        assert!(category_rank("data_import") > category_rank("load"));
        assert_eq!(threshold_metric("p95 < 100ms"), "p95");
        assert_eq!(threshold_metric("error_rate<0.1%"), "error_rate");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(850), "850 ms");
        assert_eq!(fmt_duration(12_300), "12.3 s");
        assert_eq!(fmt_duration(125_000), "2 min 5 s");
    }
}
