//! `flowgate report matrix`: several runs side by side — scenarios × targets (or ×
//! versions of one target) — with each run's verdict and per-level pass rates. A row is a
//! check id; a run that did not select it shows "—", so runs of different suites can be
//! compared without hiding what one of them never checked.

use super::html::esc;
use super::markdown::md;
use super::{level_rates_text, status_words};
use crate::model::{Outcome, RunReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A fact of a run shown in the matrix's header rows.
type Fact = fn(&RunReport) -> String;

/// One column: a run and its label.
pub struct MatrixColumn<'a> {
    /// What the column is called: the target's name and version, or a name given by the
    /// user.
    pub label: String,
    pub report: &'a RunReport,
}

impl<'a> MatrixColumn<'a> {
    /// Labelled `profile (system version)`, e.g. `reference (0.1.0)`.
    pub fn of(report: &'a RunReport) -> Self {
        let t = &report.target;
        let label = match &t.version {
            Some(v) => format!("{} ({v})", t.name),
            None => t.name.clone(),
        };
        MatrixColumn { label, report }
    }
}

/// Rows: check id → (name, outcome per column).
fn rows<'a>(columns: &[MatrixColumn<'a>]) -> BTreeMap<&'a str, (&'a str, Vec<Option<Outcome>>)> {
    let mut rows: BTreeMap<&str, (&str, Vec<Option<Outcome>>)> = BTreeMap::new();
    for (i, c) in columns.iter().enumerate() {
        for (id, name, _, outcome) in c.report.checks() {
            let row = rows
                .entry(id)
                .or_insert_with(|| (name, vec![None; columns.len()]));
            row.1[i] = Some(outcome);
        }
    }
    rows
}

fn cell(o: Option<Outcome>) -> &'static str {
    match o {
        None => "—",
        Some(Outcome::Passed) => "✅ pass",
        Some(Outcome::Failed) => "❌ FAIL",
        Some(Outcome::Error) => "⚠️ error",
        Some(Outcome::Skipped) => "⏭ skipped",
        Some(Outcome::Waived) => "🟡 waived",
    }
}

/// The matrix as Markdown.
pub fn render_matrix_markdown(columns: &[MatrixColumn<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Results matrix\n");
    let header: Vec<String> = columns.iter().map(|c| md(&c.label)).collect();
    let _ = writeln!(out, "| | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
    let facts: [(&str, Fact); 3] = [
        ("Verdict", |r| status_words(r)),
        ("Levels", |r| level_rates_text(r)),
        ("Started", |r| {
            r.started_at.format("%Y-%m-%d %H:%M UTC").to_string()
        }),
    ];
    for (name, fact) in facts {
        let cells: Vec<String> = columns.iter().map(|c| md(&fact(c.report))).collect();
        let _ = writeln!(out, "| **{name}** | {} |", cells.join(" | "));
    }
    let _ = writeln!(out, "\n| Check | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
    for (id, (name, outcomes)) in rows(columns) {
        let cells: Vec<&str> = outcomes.iter().map(|o| cell(*o)).collect();
        let _ = writeln!(
            out,
            "| {} (`{}`) | {} |",
            md(name),
            md(id),
            cells.join(" | ")
        );
    }
    out
}

/// The matrix as a standalone HTML page.
pub fn render_matrix_html(columns: &[MatrixColumn<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Results matrix</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse}}\
th,td{{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}}th{{background:#f6f8fa}}\
.pass{{background:#dafbe1}}.fail{{background:#ffebe9}}.other{{background:#fff8c5}}</style></head><body>"
    );
    let _ = writeln!(out, "<h1>Results matrix</h1>\n<table><thead><tr><th></th>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", esc(&c.label));
    }
    let _ = writeln!(out, "</tr></thead><tbody>");
    let facts: [(&str, Fact); 2] = [
        ("Verdict", |r| status_words(r)),
        ("Levels", |r| level_rates_text(r)),
    ];
    for (name, fact) in facts {
        let _ = write!(out, "<tr><th>{name}</th>");
        for c in columns {
            let _ = write!(out, "<td>{}</td>", esc(&fact(c.report)));
        }
        let _ = writeln!(out, "</tr>");
    }
    for (id, (name, outcomes)) in rows(columns) {
        let _ = write!(out, "<tr><td>{} <code>{}</code></td>", esc(name), esc(id));
        for o in outcomes {
            let class = match o {
                Some(Outcome::Passed) => "pass",
                Some(Outcome::Failed | Outcome::Error) => "fail",
                _ => "other",
            };
            let _ = write!(out, "<td class=\"{class}\">{}</td>", cell(o));
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</tbody></table></body></html>");
    out
}
