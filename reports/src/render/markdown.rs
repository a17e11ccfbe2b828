//! The Markdown sign-off report, shaped like the seed's production validation report.

use super::{
    category_title, checks, checks_with, executive_summary, header_facts, is_ready, line,
    perf_rows, severity_label, sign_off, status_words, success_rate_text, system_name,
    system_version, truncate, Check, Finding,
};
use crate::model::{Outcome, RunReport, Severity};

/// Longest value shown inline (expected, actual) before it is cut.
const INLINE_MAX: usize = 160;
/// Findings listed per check before "… and N more".
const FINDINGS_MAX: usize = 6;

/// Renders the sign-off report. Pure function of the report: same input, same bytes.
pub fn render_markdown(report: &RunReport) -> String {
    let all = checks(report);
    let summary = report.summary();
    let ran = summary.total - summary.skipped;
    let system = system_name(report);
    let mut out = String::new();

    line!(out, "# Production Validation Report - {}", md(&system));
    line!(out);
    line!(
        out,
        "**flowgate {}** - End-to-End Production Validation  ",
        md(&report.tool.version)
    );
    match system_version(report) {
        Some(v) => line!(out, "**System Version**: {} {}  ", md(&system), md(&v)),
        None => line!(
            out,
            "**System Version**: {} (version not reported by the target)  ",
            md(&system)
        ),
    }
    line!(out);
    line!(out, "| | |");
    line!(out, "|---|---|");
    for (label, value) in header_facts(report) {
        // The URL as code, as everywhere in the report (a masked secret stays `***`).
        let value = if label == "Target" {
            code(&value)
        } else {
            md(&value)
        };
        line!(out, "| **{label}** | {value} |");
    }
    line!(out);

    line!(out, "## Executive Summary");
    line!(out);
    line!(out, "{}", md(&executive_summary(report, &all).join(" ")));
    line!(out);
    let mark = if is_ready(report) { "✅" } else { "⚠️" };
    line!(
        out,
        "### Overall Status: **{}** {mark}",
        status_words(report)
    );
    line!(out);
    line!(out, "**Success Rate**: {}", success_rate_text(report));
    line!(out);

    line!(out, "## Test Results Summary");
    line!(out);
    let passed = checks_with(&all, Outcome::Passed);
    outcome_heading(&mut out, "✅ PASSED", passed.len(), ran);
    for (i, c) in passed.iter().enumerate() {
        line!(
            out,
            "{}. **{}** ({}) - {}",
            i + 1,
            md(c.name),
            severity_label(c.severity),
            md(&c.passed_note())
        );
    }
    line!(out);
    let failed = checks_with(&all, Outcome::Failed);
    outcome_heading(&mut out, "❌ FAILED", failed.len(), ran);
    for (i, c) in failed.iter().enumerate() {
        let marker = format!("{}. ", i + 1);
        line!(
            out,
            "{marker}**{}** ({})",
            md(c.name),
            severity_label(c.severity)
        );
        let indent = " ".repeat(marker.len());
        for obs in observation_lines(c) {
            line!(out, "{indent}- {obs}");
        }
        if let Some(w) = c.expired_waiver() {
            line!(
                out,
                "{indent}- Waiver expired on {} (owner: {}; reason: {})",
                w.expires,
                md(&w.owner),
                md(&w.reason)
            );
        }
    }
    line!(out);
    let errored = checks_with(&all, Outcome::Error);
    if !errored.is_empty() {
        line!(
            out,
            "### 🔌 ERRORS - infrastructure, not counted as failures ({}/{ran})",
            errored.len()
        );
        line!(out);
        for (i, c) in errored.iter().enumerate() {
            numbered_check(&mut out, i, c, "");
        }
        line!(out);
    }
    let waived = checks_with(&all, Outcome::Waived);
    if !waived.is_empty() {
        line!(out, "### 🏳️ WAIVED Failures ({})", waived.len());
        line!(out);
        for (i, c) in waived.iter().enumerate() {
            let waiver = match c.waiver() {
                Some(w) => format!(
                    " - waived until {} by {}: {}",
                    w.expires,
                    md(&w.owner),
                    md(&w.reason)
                ),
                None => String::new(),
            };
            numbered_check(&mut out, i, c, &waiver);
        }
        line!(out);
    }
    let skipped = checks_with(&all, Outcome::Skipped);
    if !skipped.is_empty() {
        line!(
            out,
            "### ⏭️ SKIPPED - not counted in the success rate ({})",
            skipped.len()
        );
        line!(out);
        for (i, c) in skipped.iter().enumerate() {
            line!(
                out,
                "{}. **{}** ({}) - {}",
                i + 1,
                md(c.name),
                severity_label(c.severity),
                md(&c.skip_reason())
            );
        }
        line!(out);
    }

    detailed_findings(&mut out, &all);
    performance(&mut out, &all);
    api_coverage(&mut out, report);
    critical_issues(&mut out, report, &all);
    if let Some(sc) = &report.selfcheck {
        line!(out, "## Suite Strength (defect injection)");
        line!(out);
        let explored = sc.explored();
        if explored {
            line!(
                out,
                "| Defect | Description | Caught by | Explore | Status |"
            );
            line!(
                out,
                "|--------|-------------|-----------|---------|--------|"
            );
        } else {
            line!(out, "| Defect | Description | Caught by | Status |");
            line!(out, "|--------|-------------|-----------|--------|");
        }
        for d in &sc.defects {
            let caught = if d.caught_by.is_empty() {
                "—".to_string()
            } else {
                d.caught_by
                    .iter()
                    .map(|s| md(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let status = match d.caught_by.len() {
                0 if d.is_caught() => "✅ Caught by the explorer only".to_string(),
                0 => "❌ Missed".to_string(),
                1 if !sc.quick => "⚠️ Caught by one scenario only".to_string(),
                n if !sc.quick => format!("✅ Caught ×{n}"),
                _ => "✅ Caught".to_string(),
            };
            let explore = if explored {
                format!(" {} |", md(&d.explore_text().unwrap_or_else(|| "—".into())))
            } else {
                String::new()
            };
            line!(
                out,
                "| {} | {} | {caught} |{explore} {status} |",
                md(&d.defect),
                md(&d.description)
            );
        }
        line!(out);
        let caught = sc.caught();
        line!(
            out,
            "**Detection rate**: {:.1}% ({caught}/{} defects caught)",
            sc.detection_rate() * 100.0,
            sc.defects.len()
        );
        line!(out);
        line!(out, "**Redundancy**: {}", redundancy_sentence(sc));
        line!(out);
        if sc.false_alarms.is_empty() {
            line!(
                out,
                "**False alarms**: none (no scenario failed against the correct server)"
            );
        } else {
            line!(
                out,
                "**False alarms** (failed against the correct server): {}",
                sc.false_alarms
                    .iter()
                    .map(|s| md(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        line!(out);
    }

    line!(out, "## Sign-off Status");
    line!(out);
    for item in sign_off(report, &all) {
        let mark = if item.ticked == Some(true) { "x" } else { " " };
        line!(out, "- [{mark}] {} — {}", md(&item.label), md(&item.note));
    }
    line!(out);
    line!(out, "---");
    line!(out);
    line!(
        out,
        "**Prepared by**: {} {}  ",
        md(&report.tool.name),
        md(&report.tool.version)
    );
    line!(
        out,
        "**Role**: Production Validation and End-to-End Testing  "
    );
    line!(
        out,
        "**Date**: {}",
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    out
}

/// The bullet lines under a failed, errored or waived check (already Markdown).
fn observation_lines(c: &Check<'_>) -> Vec<String> {
    let findings = c.findings();
    let mut lines = Vec::new();
    for f in findings.iter().take(FINDINGS_MAX) {
        lines.extend(finding_lines(f));
    }
    if findings.len() > FINDINGS_MAX {
        lines.push(format!(
            "… and {} more (see the JSON or HTML report)",
            findings.len() - FINDINGS_MAX
        ));
    }
    lines
}

fn finding_lines(f: &Finding<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    if f.step.is_empty() {
        lines.push(md_rich(&f.message));
    } else {
        lines.push(format!("{}: {}", md(&f.step), md_rich(&f.message)));
    }
    if let Some(fail) = f.failure {
        match (&fail.expected, &fail.actual) {
            (Some(e), Some(a)) => lines.push(format!(
                "Expected {}, got {}",
                code(&truncate(e, INLINE_MAX)),
                code(&truncate(a, INLINE_MAX))
            )),
            (Some(e), None) => lines.push(format!("Expected {}", code(&truncate(e, INLINE_MAX)))),
            (None, Some(a)) => lines.push(format!("Got {}", code(&truncate(a, INLINE_MAX)))),
            (None, None) => {}
        }
    }
    if !f.states_seen.is_empty() {
        lines.push(format!(
            "States seen: {}",
            f.states_seen
                .iter()
                .map(|s| code(s))
                .collect::<Vec<_>>()
                .join(" → ")
        ));
    }
    lines
}

fn detailed_findings(out: &mut String, all: &[Check<'_>]) {
    line!(out, "## Detailed Findings");
    line!(out);
    for (i, cat) in super::categories(all).iter().enumerate() {
        let in_cat: Vec<&Check<'_>> = all.iter().filter(|c| c.category == *cat).collect();
        let ran: Vec<&&Check<'_>> = in_cat
            .iter()
            .filter(|c| c.outcome != Outcome::Skipped)
            .collect();
        let passed: Vec<&&Check<'_>> = ran
            .iter()
            .filter(|c| c.outcome == Outcome::Passed)
            .copied()
            .collect();
        let mark = if ran.is_empty() {
            "⏭️"
        } else if passed.len() == ran.len() {
            "✅"
        } else {
            "❌"
        };
        line!(out, "### {}. {} {mark}", i + 1, md(&category_title(cat)));
        if ran.is_empty() {
            line!(
                out,
                "- Not tested: every check of this category was skipped"
            );
        } else {
            let names = passed.iter().map(|c| md(c.name)).collect::<Vec<_>>();
            if names.is_empty() {
                line!(out, "- 0 of {} checks passed", ran.len());
            } else {
                line!(
                    out,
                    "- {} of {} checks passed: {}",
                    passed.len(),
                    ran.len(),
                    names.join(", ")
                );
            }
        }
        let mut problems: Vec<&Check<'_>> = in_cat
            .iter()
            .copied()
            .filter(|c| {
                matches!(
                    c.outcome,
                    Outcome::Failed | Outcome::Error | Outcome::Waived
                )
            })
            .collect();
        problems.sort_by_key(|c| c.severity);
        for c in problems {
            let what = c
                .findings()
                .first()
                .map(|f| md_rich(&f.message))
                .unwrap_or_default();
            let label = match c.outcome {
                Outcome::Error => "infrastructure error",
                Outcome::Waived => "waived",
                _ => "failed",
            };
            line!(
                out,
                "- **Problem**: **{}** ({}, {label}): {what}",
                md(c.name),
                severity_label(c.severity)
            );
            match c.remediation() {
                Some(r) => line!(out, "  - **Remediation**: {}", md_block(r, 4)),
                None if c.outcome != Outcome::Error => line!(
                    out,
                    "  - **Remediation**: none written in the scenario; see what was observed above"
                ),
                None => line!(
                    out,
                    "  - **Remediation**: make the target reachable and run the check again"
                ),
            }
            if let Some(w) = c.fails_when() {
                line!(
                    out,
                    "  - *Context — this check fails when*: {}",
                    md_block(w, 4)
                );
            }
        }
        line!(out);
    }
}

fn performance(out: &mut String, all: &[Check<'_>]) {
    line!(out, "## Performance Metrics");
    line!(out);
    let rows = perf_rows(all);
    if rows.is_empty() {
        line!(out, "No performance figures were measured in this run.");
        line!(out);
        return;
    }
    line!(out, "| Metric | Result | Target | Status |");
    line!(out, "|--------|--------|--------|--------|");
    for r in rows {
        let status = if r.passed { "✅ Met" } else { "❌ Missed" };
        line!(
            out,
            "| {} | {} | {} | {status} |",
            md(&r.metric),
            md(&r.result),
            md(&r.target)
        );
    }
    line!(out);
}

/// The documented responses the run never saw, and the statuses it saw undocumented.
fn api_coverage(out: &mut String, report: &RunReport) {
    let Some(c) = &report.coverage else { return };
    line!(out, "## API Coverage");
    line!(out);
    line!(
        out,
        "{} (from {}).",
        super::coverage_text(report),
        md(&c.source)
    );
    line!(out);
    if c.error.is_some() {
        return;
    }
    let missing = c.never_exercised();
    if missing.is_empty() {
        line!(out, "Every documented response was exercised.");
    } else {
        line!(out, "Never exercised ({}):", missing.len());
        line!(out);
        for m in &missing {
            line!(out, "- `{m}`");
        }
    }
    line!(out);
    if !c.undocumented.is_empty() {
        line!(out, "Seen but not documented ({}):", c.undocumented.len());
        line!(out);
        for u in &c.undocumented {
            line!(out, "- `{}`", u);
        }
        line!(out);
    }
}

fn critical_issues(out: &mut String, report: &RunReport, all: &[Check<'_>]) {
    line!(out, "## Critical Issues for Production");
    line!(out);
    let issues: Vec<Check<'_>> = checks_with(all, Outcome::Failed)
        .into_iter()
        .filter(|c| c.severity <= Severity::High)
        .collect();
    if issues.is_empty() {
        line!(out, "None: no critical or high severity check failed.");
        line!(out);
    }
    for (i, c) in issues.iter().enumerate() {
        let priority = if c.severity == Severity::Critical {
            "P0 - Blocker"
        } else {
            "P1 - High"
        };
        line!(out, "### {}. {} ({priority})", i + 1, md(c.name));
        line!(out);
        let issue = c
            .findings()
            .first()
            .map(|f| md_rich(&f.message))
            .unwrap_or_else(|| "failed".into());
        line!(out, "**Issue**: {issue}  ");
        let gating = if report.is_gating(c.severity) {
            "blocks sign-off under the gating policy"
        } else {
            "below the gating threshold"
        };
        line!(
            out,
            "**Impact**: {} check in {} failed; {gating}  ",
            c.severity.as_str(),
            md(&category_title(c.category))
        );
        line!(out, "**Resolution**:");
        line!(out);
        match c.remediation() {
            Some(r) => line!(out, "{}", md_block(r, 0)),
            None => line!(
                out,
                "No remediation is written in the scenario; start from what was observed above."
            ),
        }
        line!(out);
    }
    let errored = checks_with(all, Outcome::Error);
    if !errored.is_empty() {
        line!(
            out,
            "Infrastructure errors stopped {} check{}: {}. Their results are unknown; fix the environment and run again before signing off.",
            errored.len(),
            super::plural(errored.len()),
            errored.iter().map(|c| md(c.name)).collect::<Vec<_>>().join(", ")
        );
        line!(out);
    }
}

/// Escapes text for inline Markdown: every punctuation character that could start
/// emphasis, code, links, HTML or a table cell is backslash-escaped; newlines become spaces.
/// `### ✅ PASSED Tests (n/ran)`, and "None." under it when n is 0.
fn outcome_heading(out: &mut String, title: &str, n: usize, ran: usize) {
    line!(out, "### {title} Tests ({n}/{ran})");
    line!(out);
    if n == 0 {
        line!(out, "None.");
    }
}

/// `N. **name** (SEVERITY)<suffix>` and the check's observations indented under it.
fn numbered_check(out: &mut String, i: usize, c: &Check<'_>, suffix: &str) {
    let marker = format!("{}. ", i + 1);
    let (name, severity) = (md(c.name), severity_label(c.severity));
    line!(out, "{marker}**{name}** ({severity}){suffix}");
    let indent = " ".repeat(marker.len());
    for obs in observation_lines(c) {
        line!(out, "{indent}- {obs}");
    }
}

pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Like [`md`], but text between pairs of backticks (how the harness quotes values,
/// e.g. "status stayed `initialized`") becomes a code span.
pub(crate) fn md_rich(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return md(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 1 { code(p) } else { md(p) })
        .collect()
}

/// A multi-line text block (remediation) nested in a list item whose content starts at
/// column `indent`: lines are escaped, list markers at their start are kept.
fn md_block(s: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines = Vec::new();
    for (i, line) in s.trim().lines().enumerate() {
        let trimmed = line.trim_start();
        let lead = &line[..line.len() - trimmed.len()];
        let marker_len = list_marker_len(trimmed);
        let (marker, rest) = trimmed.split_at(marker_len);
        let text = format!("{lead}{marker}{}", md_rich(rest));
        if i == 0 {
            lines.push(text);
        } else if line.trim().is_empty() {
            lines.push(String::new());
        } else {
            lines.push(format!("{pad}{text}"));
        }
    }
    lines.join("\n")
}

/// Length of a leading "- ", "* " or "12. " list marker, else 0.
fn list_marker_len(s: &str) -> usize {
    if s.starts_with("- ") || s.starts_with("* ") {
        return 2;
    }
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && s[digits..].starts_with(". ") {
        return digits + 2;
    }
    0
}

/// An inline code span that survives any content: the fence is longer than every run of
/// backticks inside; newlines become spaces.
pub(crate) fn code(s: &str) -> String {
    let content: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if content.starts_with('`') || content.ends_with('`') || content.is_empty() {
        format!("{fence} {content} {fence}")
    } else {
        format!("{fence}{content}{fence}")
    }
}

/// Whether every caught defect is caught by two scenarios or more.
fn redundancy_sentence(sc: &crate::model::SelfCheck) -> String {
    if sc.quick {
        return "not measured (`--quick` stops each defect's run at its first catcher)".into();
    }
    let single = sc.single_catchers();
    let min = sc
        .defects
        .iter()
        .map(|d| d.caught_by.len())
        .filter(|n| *n > 0)
        .min()
        .unwrap_or(0);
    if single.is_empty() {
        format!("every caught defect is caught by at least {min} scenarios")
    } else {
        format!(
            "{} defect{} rest{} on one scenario: {}",
            single.len(),
            if single.len() == 1 { "" } else { "s" },
            if single.len() == 1 { "s" } else { "" },
            single.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_punctuation() {
        assert_eq!(md("a|b *c* <d>"), "a\\|b \\*c\\* \\<d\\>");
        assert_eq!(md("line\nbreak"), "line break");
    }

    #[test]
    fn code_spans_fence_around_backticks() {
        assert_eq!(code("initialized"), "`initialized`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
    }

    #[test]
    fn remediation_keeps_list_markers() {
        assert_eq!(
            md_block("Fix it:\n- enforce *tenant*\n- add tests", 4),
            "Fix it:\n    - enforce \\*tenant\\*\n    - add tests"
        );
    }

    #[test]
    fn backtick_quotes_become_code_spans() {
        assert_eq!(
            md_rich("status stayed `initialized_x`"),
            "status stayed `initialized_x`"
        );
        assert_eq!(md_rich("odd ` count_x"), "odd \\` count\\_x");
    }
}
