//! `report diff`: what changed between two stored runs, keyed on check id.
//!
//! Outcome regressions (passed or waived → failed or error) are what make `report diff`
//! exit 1. Performance changes beyond the tolerance are listed but do not fail the diff:
//! the gate for performance is the scenarios' own targets and the load thresholds, which
//! already turn into failed checks; timing differences between two runs on shared
//! machines are too noisy to gate on.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Outcome, RunReport, Severity};
use crate::render::{fmt_value, line};

/// The differences between two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub tolerance_pct: f64,
    /// Latency changes smaller than this (ms) are noise, whatever their percentage.
    pub noise_floor_ms: f64,
    /// Why the two runs are not like for like (other suite, target, filters or load
    /// settings); empty when they are. `report diff --strict` refuses such a pair.
    pub not_comparable: Vec<String>,
    /// Passed or waived before, failed or errored now.
    pub regressions: Vec<OutcomeChange>,
    /// Failed or errored before, passed now.
    pub fixed: Vec<OutcomeChange>,
    /// Failed or errored in both runs.
    pub still_failing: Vec<OutcomeChange>,
    /// Any other change of outcome (e.g. passed → skipped, failed → waived).
    pub other_changes: Vec<OutcomeChange>,
    /// Only in the new run.
    pub added: Vec<CheckRef>,
    /// Only in the old run.
    pub removed: Vec<CheckRef>,
    /// Measurements and load figures that moved by more than the tolerance.
    pub performance: Vec<PerfChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeChange {
    pub id: String,
    pub name: String,
    pub severity: Severity,
    pub old: Outcome,
    pub new: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRef {
    pub id: String,
    pub name: String,
    pub severity: Severity,
    pub outcome: Outcome,
}

/// Whether a change of a figure is good news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Better,
    Worse,
    /// The unit does not say which way is better (e.g. a percentage).
    Changed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerfChange {
    /// Check id the figure belongs to.
    pub check: String,
    /// "GET /health latency (p95)" or "create flow p95".
    pub metric: String,
    pub unit: String,
    pub old: f64,
    pub new: f64,
    /// Relative change in percent; None when the old value was 0.
    pub change_pct: Option<f64>,
    pub direction: Direction,
}

impl RunDiff {
    /// True when a check that passed (or was waived) now fails or errors.
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty()
    }
}

struct Entry<'a> {
    name: &'a str,
    severity: Severity,
    outcome: Outcome,
}

fn index(report: &RunReport) -> BTreeMap<&str, Entry<'_>> {
    report
        .checks()
        .map(|(id, name, severity, outcome)| {
            (
                id,
                Entry {
                    name,
                    severity,
                    outcome,
                },
            )
        })
        .collect()
}

fn is_bad(o: Outcome) -> bool {
    matches!(o, Outcome::Failed | Outcome::Error)
}

/// The default noise floor of latency changes: sub-millisecond jitter on a fast endpoint
/// is a large percentage and means nothing.
pub const DEFAULT_NOISE_FLOOR_MS: f64 = 5.0;

/// Compares two runs. `tolerance_pct` is the relative change (in percent) a figure may
/// move before it is reported; latency changes under [`DEFAULT_NOISE_FLOOR_MS`] are not.
pub fn diff(old: &RunReport, new: &RunReport, tolerance_pct: f64) -> RunDiff {
    diff_with_floor(old, new, tolerance_pct, DEFAULT_NOISE_FLOOR_MS)
}

/// Why two runs are not like for like, in words; empty when they are.
pub fn comparability(old: &RunReport, new: &RunReport) -> Vec<String> {
    let mut why = Vec::new();
    let (a, b) = (&old.selection, &new.selection);
    if let (Some(x), Some(y)) = (&a.suite_digest, &b.suite_digest) {
        if x != y {
            why.push(format!(
                "the suites differ (sha256 {} vs {})",
                x.get(..12).unwrap_or(x),
                y.get(..12).unwrap_or(y)
            ));
        }
    }
    if a.filters != b.filters {
        why.push(format!(
            "the filters differ ({} vs {})",
            words_or_none(&a.filters),
            words_or_none(&b.filters)
        ));
    }
    if old.target.name != new.target.name || old.target.base_url != new.target.base_url {
        why.push(format!(
            "the targets differ ({} at {} vs {} at {})",
            old.target.name, old.target.base_url, new.target.name, new.target.base_url
        ));
    }
    for l in &new.load {
        if let Some(o) = old.load.iter().find(|o| o.id == l.id) {
            let seconds = |ms: u64| (ms as f64 / 1000.0).round();
            if o.users != l.users
                || o.smoke.is_some() != l.smoke.is_some()
                || (seconds(o.duration_ms) - seconds(l.duration_ms)).abs()
                    > 0.1 * seconds(o.duration_ms).max(1.0)
            {
                why.push(format!(
                    "load phase `{}` ran differently ({} users for {:.0} s vs {} users for {:.0} s)",
                    l.id,
                    o.users,
                    seconds(o.duration_ms),
                    l.users,
                    seconds(l.duration_ms)
                ));
            }
        }
    }
    why
}

fn words_or_none(filters: &[String]) -> String {
    if filters.is_empty() {
        "none".to_string()
    } else {
        filters.join(", ")
    }
}

/// [`diff`] with an explicit latency noise floor in milliseconds.
pub fn diff_with_floor(
    old: &RunReport,
    new: &RunReport,
    tolerance_pct: f64,
    noise_floor_ms: f64,
) -> RunDiff {
    let old_idx = index(old);
    let new_idx = index(new);
    let mut d = RunDiff {
        tolerance_pct,
        noise_floor_ms,
        not_comparable: comparability(old, new),
        regressions: Vec::new(),
        fixed: Vec::new(),
        still_failing: Vec::new(),
        other_changes: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        performance: Vec::new(),
    };
    for (id, n) in &new_idx {
        match old_idx.get(id) {
            None => d.added.push(CheckRef {
                id: id.to_string(),
                name: n.name.to_string(),
                severity: n.severity,
                outcome: n.outcome,
            }),
            Some(o) => {
                let change = OutcomeChange {
                    id: id.to_string(),
                    name: n.name.to_string(),
                    severity: n.severity,
                    old: o.outcome,
                    new: n.outcome,
                };
                match (o.outcome, n.outcome) {
                    (Outcome::Passed | Outcome::Waived, new) if is_bad(new) => {
                        d.regressions.push(change)
                    }
                    (old, Outcome::Passed) if is_bad(old) => d.fixed.push(change),
                    (old, new) if is_bad(old) && is_bad(new) => d.still_failing.push(change),
                    (old, new) if old != new => d.other_changes.push(change),
                    _ => {}
                }
            }
        }
    }
    for (id, o) in &old_idx {
        if !new_idx.contains_key(id) {
            d.removed.push(CheckRef {
                id: id.to_string(),
                name: o.name.to_string(),
                severity: o.severity,
                outcome: o.outcome,
            });
        }
    }
    d.regressions
        .sort_by(|a, b| a.severity.cmp(&b.severity).then(a.id.cmp(&b.id)));

    // Performance: scenario measurements by (id, metric), load requests by (id, name).
    let old_figs = figures(old);
    for ((check, metric), (unit, new_v)) in figures(new) {
        let Some((_, old_v)) = old_figs.get(&(check.clone(), metric.clone())) else {
            continue;
        };
        let old_v = *old_v;
        if !old_v.is_finite() || !new_v.is_finite() || old_v == new_v {
            continue;
        }
        let change_pct = if old_v == 0.0 {
            None
        } else {
            Some((new_v - old_v) / old_v.abs() * 100.0)
        };
        if let Some(pct) = change_pct {
            if pct.abs() <= tolerance_pct {
                continue;
            }
        }
        if matches!(unit.as_str(), "ms" | "s") {
            let delta_ms = (new_v - old_v).abs() * if unit == "s" { 1000.0 } else { 1.0 };
            if delta_ms < noise_floor_ms {
                continue;
            }
        }
        let up = new_v > old_v;
        let direction = match lower_is_better(&unit) {
            Some(true) if up => Direction::Worse,
            Some(true) => Direction::Better,
            Some(false) if up => Direction::Better,
            Some(false) => Direction::Worse,
            None => Direction::Changed,
        };
        d.performance.push(PerfChange {
            check,
            metric,
            unit,
            old: old_v,
            new: new_v,
            change_pct,
            direction,
        });
    }
    d
}

/// ms: lower is better; req/s: higher is better; otherwise unknown.
fn lower_is_better(unit: &str) -> Option<bool> {
    match unit {
        "ms" | "s" => Some(true),
        "req/s" | "rps" => Some(false),
        _ => None,
    }
}

type FigureKey = (String, String);

fn figures(report: &RunReport) -> BTreeMap<FigureKey, (String, f64)> {
    let mut map = BTreeMap::new();
    for s in &report.scenarios {
        for m in &s.measurements {
            map.insert((s.id.clone(), m.metric.clone()), (m.unit.clone(), m.value));
        }
    }
    for l in &report.load {
        for r in &l.requests {
            map.insert(
                (l.id.clone(), format!("{} p95", r.name)),
                ("ms".to_string(), r.p95_ms),
            );
            map.insert(
                (l.id.clone(), format!("{} throughput", r.name)),
                ("req/s".to_string(), r.rps),
            );
        }
    }
    map
}

/// The diff as plain text for a terminal.
pub fn render_diff_text(d: &RunDiff) -> String {
    let mut out = String::new();
    for why in &d.not_comparable {
        line!(out, "warning: not like for like: {why}");
    }
    if !d.not_comparable.is_empty() {
        line!(out);
    }
    let section = |out: &mut String, title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        line!(out, "{title} ({}):", items.len());
        for i in items {
            line!(out, "  {i}");
        }
        line!(out);
    };
    let change = |c: &OutcomeChange| {
        format!(
            "{}  {} [{}]  {} -> {}",
            c.id,
            c.name,
            c.severity.as_str(),
            c.old.as_str(),
            c.new.as_str()
        )
    };
    section(
        &mut out,
        "REGRESSIONS",
        d.regressions
            .iter()
            .map(|c| format!("✗ {}", change(c)))
            .collect(),
    );
    section(
        &mut out,
        "Fixed",
        d.fixed.iter().map(|c| format!("✓ {}", change(c))).collect(),
    );
    section(
        &mut out,
        "Still failing",
        d.still_failing
            .iter()
            .map(|c| format!("• {}", change(c)))
            .collect(),
    );
    section(
        &mut out,
        "Other outcome changes",
        d.other_changes
            .iter()
            .map(|c| format!("~ {}", change(c)))
            .collect(),
    );
    let check = |sign: &str, c: &CheckRef, was: &str| {
        let (sev, outcome) = (c.severity.as_str(), c.outcome.as_str());
        format!("{sign} {}  {} [{sev}]  {was}{outcome}", c.id, c.name)
    };
    section(
        &mut out,
        "Added",
        d.added.iter().map(|c| check("+", c, "")).collect(),
    );
    section(
        &mut out,
        "Removed",
        d.removed.iter().map(|c| check("-", c, "was ")).collect(),
    );
    section(
        &mut out,
        &format!("Performance changes beyond ±{}%", d.tolerance_pct),
        d.performance
            .iter()
            .map(|p| {
                let word = match p.direction {
                    Direction::Better => "better",
                    Direction::Worse => "WORSE ",
                    Direction::Changed => "changed",
                };
                let pct = p
                    .change_pct
                    .map(|c| format!("{c:+.1}%"))
                    .unwrap_or_else(|| "from 0".into());
                format!(
                    "{word} {}: {}  {} -> {} ({pct})",
                    p.check,
                    p.metric,
                    fmt_value(p.old, &p.unit),
                    fmt_value(p.new, &p.unit)
                )
            })
            .collect(),
    );
    line!(
        out,
        "Summary: {} regression{}, {} fixed, {} still failing, {} added, {} removed, {} performance change{}.",
        d.regressions.len(),
        if d.regressions.len() == 1 { "" } else { "s" },
        d.fixed.len(),
        d.still_failing.len(),
        d.added.len(),
        d.removed.len(),
        d.performance.len(),
        if d.performance.len() == 1 { "" } else { "s" }
    );
    out
}
