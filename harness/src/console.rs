//! The live console view: one line per finished check, failures detailed at the end.

use crate::run::Progress;
use flowgate_reports::{Failure, LoadResult, Outcome, RunReport, ScenarioResult, StepResult};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Prints progress lines to stdout. Colour only when stdout is a terminal.
pub struct ConsoleProgress {
    color: bool,
    quiet: bool,
    lock: Mutex<()>,
}

impl ConsoleProgress {
    /// `quiet`: print only failures (and the final summary).
    pub fn new(quiet: bool) -> ConsoleProgress {
        ConsoleProgress {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            quiet,
            lock: Mutex::new(()),
        }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn label(&self, o: Outcome) -> String {
        match o {
            Outcome::Passed => self.paint("PASS  ", "32"),
            Outcome::Failed => self.paint("FAIL  ", "31;1"),
            Outcome::Error => self.paint("ERROR ", "35;1"),
            Outcome::Skipped => self.paint("SKIP  ", "33"),
            Outcome::Waived => self.paint("WAIVED", "36"),
        }
    }

    fn line(&self, done: usize, total: usize, outcome: Outcome, severity: &str, id: &str, ms: u64) {
        if self.quiet && matches!(outcome, Outcome::Passed | Outcome::Skipped) {
            return;
        }
        let width = total.to_string().len();
        let _guard = self.lock.lock();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "[{done:>width$}/{total}] {}  {severity:<8}  {id}  ({:.1} s)",
            self.label(outcome),
            ms as f64 / 1000.0
        );
        let _ = out.flush();
    }
}

impl Progress for ConsoleProgress {
    fn scenario_finished(&self, done: usize, total: usize, r: &ScenarioResult) {
        let (outcome, severity) = (r.outcome, r.severity.as_str());
        self.line(done, total, outcome, severity, &r.id, r.duration_ms);
    }

    fn load_finished(&self, done: usize, total: usize, r: &LoadResult) {
        let (outcome, severity) = (r.outcome, r.severity.as_str());
        self.line(done, total, outcome, severity, &r.id, r.duration_ms);
    }
}

fn failure_text(out: &mut String, path: &str, f: &Failure) {
    out.push_str(&format!("    at {path}\n    {}\n", f.message));
    if let Some(e) = &f.expected {
        out.push_str(&format!("    expected: {e}\n"));
    }
    if let Some(a) = &f.actual {
        out.push_str(&format!("    actual:   {a}\n"));
    }
    if let Some(x) = &f.response_excerpt {
        out.push_str("    response:\n");
        for l in x.lines().take(30) {
            out.push_str(&format!("      {l}\n"));
        }
    }
    if let Some(c) = &f.curl {
        out.push_str(&format!("    reproduce:\n      {c}\n"));
    }
}

fn deepest_failure(s: &StepResult, path: String) -> Option<(String, &Failure)> {
    for c in &s.children {
        if matches!(c.outcome, Outcome::Failed | Outcome::Error) {
            if let Some(found) = deepest_failure(c, format!("{path} › {}", c.name)) {
                return Some(found);
            }
        }
    }
    s.failure.as_ref().map(|f| (path, f))
}

/// The failures of a run, detailed (expected vs actual, response excerpt, curl), and a
/// one-line summary. Plain text, already masked.
pub fn failure_details(report: &RunReport) -> String {
    let mut out = String::new();
    for s in &report.scenarios {
        if !matches!(s.outcome, Outcome::Failed | Outcome::Error) {
            continue;
        }
        out.push_str(&format!(
            "\n{} {} [{}] {} ({})\n",
            if s.outcome == Outcome::Error {
                "ERROR"
            } else {
                "FAIL"
            },
            s.id,
            s.severity.as_str(),
            s.name,
            s.file
        ));
        for st in &s.steps {
            if matches!(st.outcome, Outcome::Failed | Outcome::Error) {
                match deepest_failure(st, st.name.clone()) {
                    Some((path, f)) => failure_text(&mut out, &path, f),
                    None => out.push_str(&format!(
                        "    at {}\n    {}\n",
                        st.name,
                        st.summary.clone().unwrap_or_default()
                    )),
                }
                if !st.states_seen.is_empty() {
                    out.push_str(&format!(
                        "    states seen: {}\n",
                        st.states_seen.join(" → ")
                    ));
                }
            }
        }
        if let Some(r) = &s.remediation {
            out.push_str(&format!("    remediation: {}\n", r.trim()));
        }
    }
    for l in &report.load {
        if matches!(l.outcome, Outcome::Failed | Outcome::Error) {
            out.push_str(&format!(
                "\nFAIL {} [{}] {}\n",
                l.id,
                l.severity.as_str(),
                l.name
            ));
            for t in l.thresholds.iter().filter(|t| !t.passed) {
                out.push_str(&format!(
                    "    threshold `{}`: {}\n",
                    t.expression,
                    t.observation()
                ));
            }
            for n in &l.notes {
                out.push_str(&format!("    {n}\n"));
            }
        }
    }
    let s = report.summary();
    out.push_str(&format!(
        "\n{} checks: {} passed, {} failed, {} errors, {} skipped, {} waived  ({:.1} s)\n",
        s.total,
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.waived,
        report.duration_ms as f64 / 1000.0
    ));
    out.push_str(&format!(
        "verdict: {}\n",
        flowgate_reports::status_words(report)
    ));
    out
}
