//! Executing scenarios against a target: scheduling ([`run_suite`]), one scenario's
//! steps ([`exec`]), each step kind ([`steps`]), polls ([`poll`]), HTTP ([`http`]),
//! assertions ([`assert`]), captures, result building and secret masking.

pub(crate) mod assert;
mod capture;
pub(crate) mod cleanup;
mod coverage;
pub(crate) mod exec;
pub mod history;
pub(crate) mod http;
mod mask;
pub(crate) mod poll;
pub(crate) mod probe;
pub mod properties;
pub(crate) mod result;
mod steps;

pub use capture::apply_captures;
pub use mask::mask_scenario;
pub use poll::{PollMachine, PollStep, PollTracker};
pub use probe::probe_target;

use exec::{Exec, Expecting, ThrottleBudget, Turn};
use probe::{probe_with, unprobed_target};
use result::*;

use crate::interp::{value_text, Masker, Vars};
use crate::profile::Profile;
use crate::spec::model::{
    CaptureSpec, Expect, ForEach, Matrix, MatrixRequest, Parallel, Poll, RequestSpec, StatusSpec,
    Step, StepKind,
};
use crate::suite::{captures_of, Suite, SuiteScenario};
use assert::{check_expect, query_json, Mismatch, ResponseData};
use chrono::Utc;
use flowgate_reports::{
    Exchange, Failure, GatingPolicy, LoadResult, Measurement, Outcome, RunReport, ScenarioResult,
    StepResult, TargetInfo,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use http::{build_client, excerpt, prepare_request, send, PreparedRequest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Cap on a response excerpt in a failure.
pub const EXCERPT_BYTES: usize = 2048;
/// Exchanges kept per step (the first and last half of this many).
const MAX_EXCHANGES: usize = 20;

/// Told about each finished check, as it finishes (the live console view).
pub trait Progress: Send + Sync {
    /// A scenario finished; `done` of `total` checks are finished.
    fn scenario_finished(&self, done: usize, total: usize, result: &ScenarioResult);
    /// A load phase finished.
    fn load_finished(&self, done: usize, total: usize, result: &LoadResult) {
        let _ = (done, total, result);
    }
}

/// What a load runner gets besides the scenario and the profile.
#[derive(Debug, Clone)]
pub struct LoadContext {
    pub run_id: String,
    /// The load scenario's id.
    pub scenario_id: String,
}

/// Runs `load:` scenarios (implemented by the `load` crate on goose).
pub trait LoadRunner: Send + Sync {
    fn run_load<'a>(
        &'a self,
        scenario: &'a SuiteScenario,
        profile: &'a Profile,
        ctx: LoadContext,
    ) -> BoxFuture<'a, LoadResult>;
}

/// How to run a suite.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Run only scenarios with at least one of these tags (empty: all).
    pub tags: Vec<String>,
    /// Leave out scenarios with any of these tags.
    pub skip_tags: Vec<String>,
    /// Run only scenarios whose name or id contains one of these (empty: all).
    pub names: Vec<String>,
    /// Scenarios run at once (0 is taken as 1; the CLI default is 4).
    pub jobs: usize,
    /// Stop scheduling after the first failure; the rest are Skipped.
    pub fail_fast: bool,
    /// Failures of this severity or worse fail the run (`None`: any failure).
    pub fail_on: Option<flowgate_reports::Severity>,
    pub progress: Option<Arc<dyn Progress>>,
    pub load_runner: Option<Arc<dyn LoadRunner>>,
    /// Known failures accepted for now: applied to each scenario as it finishes.
    pub waivers: Option<Arc<flowgate_reports::Waivers>>,
    /// Run only these scenario ids (exact; empty: no such filter), and how the filter is
    /// named in the report (e.g. `--rerun-failed report.json`).
    pub only_ids: Option<(Vec<String>, String)>,
    /// `--certify`: the report is certified only if every `must` ran and passed.
    pub certify: bool,
    /// `--min-coverage P`: the run fails unless it exercised P% of the documented API.
    pub min_coverage: Option<f64>,
    /// `--history FILE`: every exchange of the run, as JSON lines (secrets masked).
    pub history_file: Option<std::path::PathBuf>,
}

impl RunOptions {
    /// What this run checks of `suite`: the suite's categories and size before filters,
    /// and the filters as the user gave them.
    pub fn selection_of(&self, suite: &Suite) -> flowgate_reports::Selection {
        let mut categories: Vec<String> = suite
            .scenarios
            .iter()
            .map(|s| s.scenario.category.clone())
            .collect();
        categories.sort();
        categories.dedup();
        let mut filters = Vec::new();
        filters.extend(self.tags.iter().map(|t| format!("--tag {t}")));
        filters.extend(self.skip_tags.iter().map(|t| format!("--skip-tag {t}")));
        filters.extend(self.names.iter().map(|n| format!("--name {n}")));
        if let Some((_, label)) = &self.only_ids {
            filters.push(label.clone());
        }
        if self.load_runner.is_none() && suite.scenarios.iter().any(|s| s.scenario.load.is_some()) {
            // Load phases need a load runner; without one they are skipped on purpose.
            filters.push("load phases not run (no --load)".to_string());
        }
        flowgate_reports::Selection {
            suite_categories: categories,
            suite_scenarios: suite.scenarios.len(),
            filters,
            suite_digest: Some(suite.digest.clone()),
            certify: self.certify,
            min_coverage: self.min_coverage,
        }
    }

    /// The `must` scenarios this run would not run, each with why: left out by a filter,
    /// a load phase without a load runner, or a capability the profile lacks.
    /// `--certify` refuses to start while there is one.
    pub fn dropped_musts(&self, suite: &Suite, profile: &Profile) -> Vec<String> {
        suite
            .scenarios
            .iter()
            .filter(|s| s.scenario.level == flowgate_reports::Level::Must)
            .filter_map(|s| {
                let why = if !self.selects(s) {
                    "left out by the filters".to_string()
                } else if s.scenario.load.is_some() && self.load_runner.is_none() {
                    "a load phase, and load is not enabled (--load)".to_string()
                } else {
                    let missing: Vec<&str> = s
                        .scenario
                        .requires
                        .iter()
                        .filter(|c| !profile.spec.capabilities.contains(c))
                        .map(String::as_str)
                        .collect();
                    if missing.is_empty() {
                        return None;
                    }
                    format!("needs capability {} of the profile", missing.join(", "))
                };
                Some(format!("{} ({why})", s.id))
            })
            .collect()
    }

    /// Whether a scenario passes the tag and name filters.
    pub fn selects(&self, s: &SuiteScenario) -> bool {
        let tags = &s.scenario.tags;
        if !self.tags.is_empty() && !self.tags.iter().any(|t| tags.contains(t)) {
            return false;
        }
        if self.skip_tags.iter().any(|t| tags.contains(t)) {
            return false;
        }
        if !self.names.is_empty()
            && !self
                .names
                .iter()
                .any(|n| s.scenario.name.contains(n.as_str()) || s.id.contains(n.as_str()))
        {
            return false;
        }
        if let Some((ids, _)) = &self.only_ids {
            return ids.contains(&s.id);
        }
        true
    }
}

/// Runs the selected scenarios of a suite against a profile's target. The suite should
/// have been checked with [`Suite::validate_against`] first.
pub async fn run_suite(suite: &Suite, profile: &Profile, opts: RunOptions) -> RunReport {
    let started_at = Utc::now();
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().to_string();
    let client = build_client(profile.spec.follow_redirects);
    let target = match &client {
        Ok(c) => probe_with(c, profile)
            .await
            .unwrap_or_else(|_| unprobed_target(profile)),
        Err(_) => unprobed_target(profile),
    };
    let mut report = RunReport::new(
        target,
        GatingPolicy {
            fail_on: opts.fail_on,
        },
        started_at,
    );
    report.selection = opts.selection_of(suite);
    let selected: Vec<&SuiteScenario> =
        suite.scenarios.iter().filter(|s| opts.selects(s)).collect();
    let total = selected.len();
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let answered: Arc<Mutex<Vec<coverage::Answered>>> = Arc::default();
    let history = Arc::new(history::History::new(
        profile.spec.properties.is_some() || opts.history_file.is_some(),
    ));
    let throttle_budget = ThrottleBudget::of(profile);
    let jobs = opts.jobs.max(1);

    // Load phases run after the functional checks, one at a time: their traffic would
    // distort the latency limits of the functional checks, and each other's figures.
    let (functional, load): (Vec<_>, Vec<_>) = selected
        .into_iter()
        .enumerate()
        .partition(|(_, s)| s.scenario.load.is_none());
    let run_item = one_lifetime(|(i, s)| {
        let client = client.clone();
        let run_id = run_id.clone();
        let opts = &opts;
        let stop = &stop;
        let done = &done;
        let answered = &answered;
        let history = &history;
        let throttle_budget = &throttle_budget;
        async move {
            let mut result = if opts.fail_fast && stop.load(Ordering::SeqCst) {
                Done::Scenario(skipped_result(
                    s,
                    "not run: --fail-fast stopped the run after a failure",
                ))
            } else {
                match &client {
                    Ok(c) => {
                        let shared = Shared {
                            answered: answered.clone(),
                            history: history.clone(),
                            throttle_budget: throttle_budget.clone(),
                        };
                        run_one(suite, profile, s, c.clone(), &run_id, opts, shared).await
                    }
                    Err(e) => Done::Scenario(error_result(s, e)),
                }
            };
            // A waived failure is waived before anyone is told about it.
            if let (Done::Scenario(r), Some(w)) = (&mut result, &opts.waivers) {
                if let Some(entry) = flowgate_reports::waiver_for(w, &r.id, &r.name) {
                    flowgate_reports::waive(r, entry, started_at.date_naive());
                }
            }
            let failed = match &result {
                Done::Scenario(r) => matches!(r.outcome, Outcome::Failed | Outcome::Error),
                Done::Load(l) => matches!(l.outcome, Outcome::Failed | Outcome::Error),
            };
            if failed {
                stop.store(true, Ordering::SeqCst);
            }
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(p) = &opts.progress {
                match &result {
                    Done::Scenario(r) => p.scenario_finished(n, total, r),
                    Done::Load(l) => p.load_finished(n, total, l),
                }
            }
            (i, result)
        }
    });
    let mut results: Vec<(usize, Done)> = futures::stream::iter(functional)
        .map(&run_item)
        .buffer_unordered(jobs)
        .collect()
        .await;
    let load_results: Vec<(usize, Done)> = futures::stream::iter(load)
        .map(&run_item)
        .buffer_unordered(1)
        .collect()
        .await;
    results.extend(load_results);
    results.sort_by_key(|(i, _)| *i);
    for (_, r) in results {
        match r {
            Done::Scenario(s) => report.scenarios.push(s),
            Done::Load(l) => report.load.push(l),
        }
    }
    let (observed, dropped) = history.take();
    report
        .scenarios
        .extend(properties::check(&observed, dropped, profile));
    if let Some(file) = &opts.history_file {
        let text = profile.masker.mask(&history::to_json_lines(&observed));
        if let Err(e) = std::fs::write(file, text) {
            eprintln!(
                "warning: cannot write the history to {}: {e}",
                file.display()
            );
        }
    }
    if let Ok(c) = &client {
        let answered = answered.lock().map(|a| a.clone()).unwrap_or_default();
        report.coverage = coverage::measure(c, profile, &answered).await;
    }
    report.finished_at = Utc::now();
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Pins a closure over scenarios to the suite's lifetime (instead of a higher-ranked one),
/// so that the future it returns may borrow the scenario.
fn one_lifetime<'a, F, Fut>(f: F) -> F
where
    F: Fn((usize, &'a SuiteScenario)) -> Fut,
{
    f
}

/// What every scenario of a run records into.
struct Shared {
    answered: Arc<Mutex<Vec<coverage::Answered>>>,
    history: Arc<history::History>,
    throttle_budget: Arc<ThrottleBudget>,
}

async fn run_one(
    suite: &Suite,
    profile: &Profile,
    s: &SuiteScenario,
    client: reqwest::Client,
    run_id: &str,
    opts: &RunOptions,
    shared: Shared,
) -> Done {
    let missing: Vec<&String> = s
        .scenario
        .requires
        .iter()
        .filter(|c| !profile.spec.capabilities.contains(c))
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Done::Scenario(skipped_result(
            s,
            &format!(
                "requires capability {list}, which profile `{}` does not declare",
                profile.spec.name
            ),
        ));
    }
    if s.scenario.load.is_some() {
        return match &opts.load_runner {
            Some(runner) => {
                let ctx = LoadContext {
                    run_id: run_id.to_string(),
                    scenario_id: s.id.clone(),
                };
                Done::Load(runner.run_load(s, profile, ctx).await)
            }
            None => Done::Scenario(skipped_result(
                s,
                "load scenario: not run without --load (or `allow_load: true` in the profile); `flowgate load` runs one alone",
            )),
        };
    }
    let exec = Exec {
        suite,
        profile,
        client,
        measurements: Mutex::new(Vec::new()),
        created: Mutex::new(Vec::new()),
        answered: shared.answered,
        history: shared.history,
        throttle_budget: shared.throttle_budget,
        scenario_id: s.id.clone(),
    };
    let mut result = exec.run_scenario(s, run_id).await;
    mask_scenario(&mut result, &profile.masker);
    Done::Scenario(result)
}
