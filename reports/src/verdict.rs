//! The verdict: one function decides it ([`RunReport::verdict`]) from what a run recorded,
//! so a stored result re-derives the same verdict; `render::status_words` words it.

use crate::model::*;
use serde::{Deserialize, Serialize};

/// The run's verdict under its gating policy. Only `Pass` and `PassWithWaivers` exit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No gating failure, no infrastructure error, every category of the suite tested
    /// (or the run was filtered on purpose): exit 0.
    Pass,
    /// As `Pass`, but some failures are waived: exit 0, READY WITH WAIVERS.
    PassWithWaivers,
    /// A gating check failed: exit 1, NOT PRODUCTION READY.
    Fail,
    /// Categories of the suite ran no check in an unfiltered run: exit 1.
    Untested,
    /// Nothing was checked (no scenario selected, or every one skipped): exit 1.
    NoVerdict,
    /// `--min-coverage`: the run exercised less of the documented API than required (or
    /// could not measure it): exit 1.
    InsufficientCoverage,
    /// `--certify`: a `must` requirement did not run and pass (failed below the gating
    /// threshold, skipped, or waived): exit 1.
    NotCertified,
    /// An infrastructure error stopped a check: exit 3.
    Error,
}

impl RunReport {
    /// True when this failure makes the run fail under the policy.
    pub fn is_gating(&self, severity: Severity) -> bool {
        match self.policy.fail_on {
            None => true,
            Some(threshold) => severity <= threshold,
        }
    }

    /// The verdict, in this order: nothing checked is no verdict (a typo in a CI path
    /// must never give a green gate); infrastructure errors win over failures (a run that
    /// could not check something cannot be signed off, and CI must tell "broken target"
    /// from "broken release"); then gating failures; then categories left untested by an
    /// unfiltered run; then waivers.
    pub fn verdict(&self) -> Verdict {
        let s = self.summary();
        if s.total == s.skipped {
            return Verdict::NoVerdict;
        }
        let mut verdict = Verdict::Pass;
        for (_, _, severity, outcome) in self.checks() {
            match outcome {
                Outcome::Error => return Verdict::Error,
                Outcome::Failed if self.is_gating(severity) => verdict = Verdict::Fail,
                _ => {}
            }
        }
        if verdict == Verdict::Fail {
            return verdict;
        }
        if let Some(min) = self.selection.min_coverage {
            let got = self.coverage.as_ref().and_then(|c| c.percent());
            if got.is_none_or(|p| p < min) {
                return Verdict::InsufficientCoverage;
            }
        }
        if self.selection.certify && !self.musts_not_passed().is_empty() {
            return Verdict::NotCertified;
        }
        if self.selection.filters.is_empty() && !self.untested_categories().is_empty() {
            return Verdict::Untested;
        }
        if s.waived > 0 {
            return Verdict::PassWithWaivers;
        }
        verdict
    }

    /// Every check's (name, level, outcome): scenarios, then load phases.
    pub fn levelled(&self) -> impl Iterator<Item = (&str, Level, Outcome)> {
        self.scenarios
            .iter()
            .map(|s| (s.name.as_str(), s.level, s.outcome))
            .chain(
                self.load
                    .iter()
                    .map(|l| (l.name.as_str(), l.level, l.outcome)),
            )
    }

    /// Per level that has checks: (level, passed, ran, selected).
    pub fn level_rates(&self) -> Vec<(Level, usize, usize, usize)> {
        Level::ALL
            .iter()
            .map(|&level| {
                let of_level: Vec<Outcome> = self
                    .levelled()
                    .filter(|(_, l, _)| *l == level)
                    .map(|(_, _, o)| o)
                    .collect();
                let passed = of_level.iter().filter(|o| **o == Outcome::Passed).count();
                let ran = of_level.iter().filter(|o| **o != Outcome::Skipped).count();
                (level, passed, ran, of_level.len())
            })
            .filter(|(_, _, _, selected)| *selected > 0)
            .collect()
    }

    /// Names of the `must` checks that did not run and pass (certification needs none).
    pub fn musts_not_passed(&self) -> Vec<&str> {
        self.levelled()
            .filter(|(_, l, o)| *l == Level::Must && *o != Outcome::Passed)
            .map(|(name, _, _)| name)
            .collect()
    }

    /// Categories of the suite in which no check ran (all skipped, or none selected).
    pub fn untested_categories(&self) -> Vec<&str> {
        let mut tested: Vec<&str> = Vec::new();
        for s in &self.scenarios {
            if s.outcome != Outcome::Skipped {
                tested.push(s.category.as_str());
            }
        }
        if self.load.iter().any(|l| l.outcome != Outcome::Skipped) {
            tested.push("load");
        }
        self.selection
            .suite_categories
            .iter()
            .map(String::as_str)
            .filter(|c| !tested.contains(c))
            .collect()
    }

    /// The documented exit code for this verdict: 0 ready (with or without waivers),
    /// 1 not ready (a gating failure, an untested category, nothing checked), 3
    /// infrastructure error. (2, invalid input, never comes from a finished run.)
    pub fn exit_code(&self) -> i32 {
        match self.verdict() {
            Verdict::Pass | Verdict::PassWithWaivers => 0,
            Verdict::Fail
            | Verdict::Untested
            | Verdict::NoVerdict
            | Verdict::NotCertified
            | Verdict::InsufficientCoverage => 1,
            Verdict::Error => 3,
        }
    }
}
