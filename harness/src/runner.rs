//! Executing scenarios against a target: steps, polls, parallel copies, data-driven
//! loops, templates and the cross-tenant matrix, producing the run-result model.

use crate::assert::{check_expect, query_json, Mismatch, ResponseData};
use crate::http::{build_client, excerpt, prepare_request, send, PreparedRequest};
use crate::interp::{value_text, Masker, Vars};
use crate::model::{CaptureSpec, Expect, MatrixRequest, Poll, RequestSpec, Step, StepKind};
use crate::profile::Profile;
use crate::suite::{captures_of, LoadedScenario, Suite};
use chrono::Utc;
use flowgate_reports::{
    Exchange, Failure, GatingPolicy, LoadResult, Measurement, Outcome, RunReport, ScenarioResult,
    StepResult, TargetInfo,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
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
        scenario: &'a LoadedScenario,
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
}

impl RunOptions {
    /// Whether a scenario passes the tag and name filters.
    pub fn selects(&self, s: &LoadedScenario) -> bool {
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
        true
    }
}

/// What the target says about itself, read from its health URL.
pub async fn probe_target(profile: &Profile) -> Result<TargetInfo, String> {
    let client = build_client()?;
    probe_with(&client, profile).await
}

async fn probe_with(client: &reqwest::Client, profile: &Profile) -> Result<TargetInfo, String> {
    let url = profile.health_url();
    let req = PreparedRequest {
        method: reqwest::Method::GET,
        url: url.clone(),
        headers: Vec::new(),
        body: None,
        timeout: profile.request_timeout(),
        identity: None,
        generated_body_size: None,
    };
    let mut info = TargetInfo {
        name: profile.spec.name.clone(),
        base_url: profile.masker.mask(&profile.spec.base_url),
        system: None,
        version: None,
        defects: Vec::new(),
    };
    let resp = send(client, &req).await.map_err(|e| {
        profile
            .masker
            .mask(&format!("cannot reach {url}: {}", e.message))
    })?;
    if let Some(doc) = resp.json() {
        let pick = |path: Option<&String>, default: &str| -> Option<String> {
            let p = path.map(|s| s.as_str()).unwrap_or(default);
            query_json(p, &doc)
                .ok()
                .flatten()
                .filter(|v| !v.is_null() && !v.is_array())
                .map(|v| value_text(&v))
        };
        info.version = pick(profile.spec.version_path.as_ref(), "$.version");
        info.system = pick(profile.spec.system_path.as_ref(), "$.service");
        if let Some(Value::Array(d)) = doc.get("defects") {
            info.defects = d
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
    }
    Ok(info)
}

/// Runs the selected scenarios of a suite against a profile's target. The suite should
/// have been checked with [`Suite::validate_against`] first.
pub async fn run_suite(suite: &Suite, profile: &Profile, opts: RunOptions) -> RunReport {
    let started_at = Utc::now();
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().to_string();
    let client = build_client();
    let target = match &client {
        Ok(c) => probe_with(c, profile).await.unwrap_or_else(|_| TargetInfo {
            name: profile.spec.name.clone(),
            base_url: profile.masker.mask(&profile.spec.base_url),
            system: None,
            version: None,
            defects: Vec::new(),
        }),
        Err(_) => TargetInfo {
            name: profile.spec.name.clone(),
            base_url: profile.masker.mask(&profile.spec.base_url),
            system: None,
            version: None,
            defects: Vec::new(),
        },
    };
    let mut report = RunReport::new(
        target,
        GatingPolicy {
            fail_on: opts.fail_on,
        },
        started_at,
    );
    let selected: Vec<&LoadedScenario> =
        suite.scenarios.iter().filter(|s| opts.selects(s)).collect();
    let total = selected.len();
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
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
        async move {
            let result = if opts.fail_fast && stop.load(Ordering::SeqCst) {
                Done::Scenario(skipped_result(
                    s,
                    "not run: --fail-fast stopped the run after a failure",
                ))
            } else {
                match &client {
                    Ok(c) => run_one(suite, profile, s, c.clone(), &run_id, opts).await,
                    Err(e) => Done::Scenario(error_result(s, e)),
                }
            };
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
    report.finished_at = Utc::now();
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Pins a closure over scenarios to the suite's lifetime (instead of a higher-ranked one),
/// so that the future it returns may borrow the scenario.
fn one_lifetime<'a, F, Fut>(f: F) -> F
where
    F: Fn((usize, &'a LoadedScenario)) -> Fut,
{
    f
}

enum Done {
    Scenario(ScenarioResult),
    Load(LoadResult),
}

fn base_result(s: &LoadedScenario) -> ScenarioResult {
    ScenarioResult {
        id: s.id.clone(),
        name: s.scenario.name.clone(),
        file: s.file.clone(),
        category: s.scenario.category.clone(),
        severity: s.scenario.severity.into(),
        tags: s.scenario.tags.clone(),
        description: s.scenario.description.clone(),
        remediation: s.scenario.remediation.clone(),
        outcome: Outcome::Passed,
        duration_ms: 0,
        steps: Vec::new(),
        measurements: Vec::new(),
        waiver: None,
    }
}

fn skipped_result(s: &LoadedScenario, reason: &str) -> ScenarioResult {
    let mut r = base_result(s);
    r.outcome = Outcome::Skipped;
    r.steps.push(StepResult {
        name: "skipped".into(),
        kind: "skip".into(),
        outcome: Outcome::Skipped,
        duration_ms: 0,
        summary: Some(reason.to_string()),
        failure: None,
        states_seen: Vec::new(),
        exchanges: Vec::new(),
        children: Vec::new(),
    });
    r
}

fn error_result(s: &LoadedScenario, message: &str) -> ScenarioResult {
    let mut r = base_result(s);
    r.outcome = Outcome::Error;
    r.steps.push(step_result(
        "run",
        "request",
        Outcome::Error,
        Some(simple_failure(message)),
    ));
    r
}

fn step_result(name: &str, kind: &str, outcome: Outcome, failure: Option<Failure>) -> StepResult {
    StepResult {
        name: name.to_string(),
        kind: kind.to_string(),
        outcome,
        duration_ms: 0,
        summary: failure.as_ref().map(|f| f.message.clone()),
        failure,
        states_seen: Vec::new(),
        exchanges: Vec::new(),
        children: Vec::new(),
    }
}

fn simple_failure(message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        expected: None,
        actual: None,
        response_excerpt: None,
        curl: None,
    }
}

async fn run_one(
    suite: &Suite,
    profile: &Profile,
    s: &LoadedScenario,
    client: reqwest::Client,
    run_id: &str,
    opts: &RunOptions,
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
                "load scenario: no load runner in this command (use `flowgate load`)",
            )),
        };
    }
    let exec = Exec {
        suite,
        profile,
        client,
        measurements: Mutex::new(Vec::new()),
    };
    let mut result = exec.run_scenario(s, run_id).await;
    mask_scenario(&mut result, &profile.masker);
    Done::Scenario(result)
}

/// Masks secrets in every string of a result.
pub fn mask_scenario(r: &mut ScenarioResult, m: &Masker) {
    if m.is_empty() {
        return;
    }
    for s in &mut r.steps {
        mask_step(s, m);
    }
    for x in &mut r.measurements {
        m.mask_in_place(&mut x.metric);
    }
}

fn mask_step(s: &mut StepResult, m: &Masker) {
    m.mask_in_place(&mut s.name);
    if let Some(x) = s.summary.as_mut() {
        m.mask_in_place(x);
    }
    if let Some(f) = s.failure.as_mut() {
        mask_failure(f, m);
    }
    for st in &mut s.states_seen {
        m.mask_in_place(st);
    }
    for e in &mut s.exchanges {
        m.mask_in_place(&mut e.url);
    }
    for c in &mut s.children {
        mask_step(c, m);
    }
}

fn mask_failure(f: &mut Failure, m: &Masker) {
    m.mask_in_place(&mut f.message);
    for x in [
        &mut f.expected,
        &mut f.actual,
        &mut f.response_excerpt,
        &mut f.curl,
    ]
    .into_iter()
    .flatten()
    {
        m.mask_in_place(x);
    }
}

/// Outcome of a sequence: the first non-passing one (Error or Failed), else Passed.
fn combine(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
    let mut out = Outcome::Passed;
    for o in outcomes {
        match o {
            Outcome::Error => return Outcome::Error,
            Outcome::Failed if out == Outcome::Passed => out = Outcome::Failed,
            _ => {}
        }
    }
    out
}

struct Exec<'a> {
    suite: &'a Suite,
    profile: &'a Profile,
    client: reqwest::Client,
    measurements: Mutex<Vec<Measurement>>,
}

/// One request's outcome inside a step.
struct Sent {
    req: PreparedRequest,
    resp: Result<ResponseData, String>,
}

impl Sent {
    fn exchange(&self) -> Exchange {
        Exchange {
            method: self.req.method.to_string(),
            url: self.req.url.clone(),
            status: self.resp.as_ref().ok().map(|r| r.status),
            duration_ms: self
                .resp
                .as_ref()
                .map(|r| r.duration.as_secs_f64() * 1000.0)
                .unwrap_or(0.0),
            identity: self.req.identity.clone(),
        }
    }

    fn failure(&self, m: Mismatch) -> Failure {
        Failure {
            message: m.message,
            expected: Some(m.expected),
            actual: Some(m.actual),
            response_excerpt: self
                .resp
                .as_ref()
                .ok()
                .map(|r| excerpt(&r.body, EXCERPT_BYTES)),
            curl: Some(self.req.curl()),
        }
    }
}

fn push_exchange(list: &mut Vec<Exchange>, e: Exchange, total_so_far: usize) {
    if total_so_far < MAX_EXCHANGES / 2 {
        list.push(e);
    } else {
        if list.len() >= MAX_EXCHANGES {
            list.remove(MAX_EXCHANGES / 2);
        }
        list.push(e);
    }
}

/// Captures values from a response into variables. Returns the first capture that found
/// nothing.
pub fn apply_captures(
    captures: &BTreeMap<String, CaptureSpec>,
    resp: &ResponseData,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    let doc = resp.json();
    for (name, spec) in captures {
        let value = match spec {
            CaptureSpec::Status(_) => Some(Value::from(resp.status)),
            CaptureSpec::Header(h) => resp.header(&h.header).map(Value::String),
            CaptureSpec::Json(path) => match &doc {
                Some(d) => query_json(path, d).map_err(|e| Mismatch {
                    message: e,
                    expected: path.clone(),
                    actual: "not evaluated".into(),
                })?,
                None => None,
            },
        };
        match value {
            Some(v) => vars.set(name.clone(), v),
            None => {
                let what = match spec {
                    CaptureSpec::Json(p) => format!("`{p}` in the response body"),
                    CaptureSpec::Header(h) => format!("header `{}`", h.header),
                    CaptureSpec::Status(_) => "the status".into(),
                };
                return Err(Mismatch {
                    message: format!("capture `{name}`: {what} was not found"),
                    expected: format!("{what} present"),
                    actual: "absent".into(),
                });
            }
        }
    }
    Ok(())
}

/// The state of a poll's tracked values, for illegal-transition, monotonic and order
/// checks. Exposed so the load runner can apply the same semantics.
#[derive(Debug, Default, Clone)]
pub struct PollTracker {
    /// Distinct tracked states, in the order seen.
    pub states: Vec<String>,
    last_change: Option<Instant>,
    monotonic_last: BTreeMap<String, f64>,
    order_index: Option<usize>,
}

impl PollTracker {
    /// Feeds one response body; returns a mismatch when a rule is broken.
    pub fn observe(
        &mut self,
        poll: &Poll,
        profile: &Profile,
        doc: Option<&Value>,
    ) -> Result<(), Mismatch> {
        let Some(doc) = doc else { return Ok(()) };
        if let Some(track) = &poll.track {
            if let Ok(Some(v)) = query_json(track, doc) {
                let state = value_text(&v);
                let prev = self.states.last().cloned();
                if prev.as_deref() != Some(state.as_str()) {
                    if let (Some(prev), Some(name)) = (&prev, &poll.state_machine) {
                        if let Some(sm) = profile.spec.state_machines.get(name) {
                            if !sm.change_is_legal(prev, &state) {
                                let why = if sm.terminal.contains(prev) {
                                    format!("terminal state `{prev}` changed to `{state}`")
                                } else {
                                    format!("illegal transition `{prev}` → `{state}` (not reachable in state machine `{name}`)")
                                };
                                self.states.push(state.clone());
                                return Err(Mismatch {
                                    message: why,
                                    expected: format!("a state reachable from `{prev}`"),
                                    actual: format!("`{state}`"),
                                });
                            }
                        }
                    }
                    self.states.push(state);
                    self.last_change = Some(Instant::now());
                }
            }
        }
        for path in &poll.monotonic {
            if let Ok(Some(v)) = query_json(path, doc) {
                if let Some(x) = v.as_f64() {
                    if let Some(prev) = self.monotonic_last.get(path) {
                        if x < *prev {
                            return Err(Mismatch {
                                message: format!("`{path}` went down from {prev} to {x}"),
                                expected: format!(">= {prev}"),
                                actual: x.to_string(),
                            });
                        }
                    }
                    self.monotonic_last.insert(path.clone(), x);
                }
            }
        }
        if let Some(order) = &poll.order {
            if let Ok(Some(v)) = query_json(&order.path, doc) {
                if !v.is_null() {
                    let text = value_text(&v);
                    match order.values.iter().position(|x| *x == text) {
                        None => {
                            return Err(Mismatch {
                                message: format!(
                                    "`{}` is `{text}`, which is not in the declared order",
                                    order.path
                                ),
                                expected: format!("one of {:?}", order.values),
                                actual: text,
                            })
                        }
                        Some(i) => {
                            if let Some(prev) = self.order_index {
                                if i < prev {
                                    return Err(Mismatch {
                                        message: format!(
                                            "`{}` went back from `{}` to `{text}`",
                                            order.path, order.values[prev]
                                        ),
                                        expected: format!("`{}` or later", order.values[prev]),
                                        actual: text,
                                    });
                                }
                            }
                            self.order_index = Some(i);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// How long the current tracked state has lasted.
    pub fn current_state_age(&self) -> Option<Duration> {
        self.last_change.map(|t| t.elapsed())
    }
}

impl<'a> Exec<'a> {
    async fn run_scenario(&self, s: &LoadedScenario, run_id: &str) -> ScenarioResult {
        let started = Instant::now();
        let mut result = base_result(s);
        let mut vars = Vars::new(run_id, s.id.clone());
        let mut init_error = None;
        for (k, v) in &self.profile.spec.variables {
            match vars.interpolate_value(v) {
                Ok(x) => vars.set(k.clone(), x),
                Err(e) => init_error = Some(format!("profile variable `{k}`: {e}")),
            }
        }
        for (k, v) in &s.scenario.variables {
            match vars.interpolate_value(v) {
                Ok(x) => vars.set(k.clone(), x),
                Err(e) => init_error = Some(format!("variable `{k}`: {e}")),
            }
        }
        if let Some(e) = init_error {
            result.outcome = Outcome::Error;
            result.steps.push(step_result(
                "variables",
                "request",
                Outcome::Error,
                Some(simple_failure(&e)),
            ));
            return result;
        }

        let mut outcome = Outcome::Passed;
        if !s.scenario.setup.is_empty() {
            let group = self
                .run_group("setup", &s.scenario.setup, &mut vars, None)
                .await;
            outcome = group.outcome;
            result.steps.push(group);
        }
        if outcome == Outcome::Passed {
            let (steps, o) = self.run_sequence(&s.scenario.steps, &mut vars, None).await;
            result.steps.extend(steps);
            outcome = o;
        } else {
            for st in &s.scenario.steps {
                result.steps.push(not_run(st, "not run: setup failed"));
            }
        }
        if !s.scenario.teardown.is_empty() {
            let mut group = self
                .run_group("teardown", &s.scenario.teardown, &mut vars, None)
                .await;
            if group.outcome != Outcome::Passed {
                group.summary = Some(format!(
                    "teardown did not complete ({}); it never fails the scenario",
                    group.summary.unwrap_or_default()
                ));
            }
            result.steps.push(group);
        }
        result.outcome = outcome;
        result.measurements = self
            .measurements
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    /// Setup (stops at the first failure) or teardown (every step runs).
    async fn run_group(
        &self,
        kind: &str,
        steps: &[Step],
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> StepResult {
        let started = Instant::now();
        let (children, outcome) = if kind == "teardown" {
            let mut children = Vec::new();
            for step in steps {
                children.push(self.run_step(step, vars, identity).await);
            }
            let outcome = combine(children.iter().map(|c| c.outcome));
            (children, outcome)
        } else {
            self.run_sequence(steps, vars, identity).await
        };
        let summary = children
            .iter()
            .find(|c| c.outcome != Outcome::Passed && c.outcome != Outcome::Skipped)
            .map(|c| {
                format!(
                    "step `{}`: {}",
                    c.name,
                    c.summary.clone().unwrap_or_default()
                )
            });
        StepResult {
            name: kind.to_string(),
            kind: kind.to_string(),
            outcome,
            duration_ms: started.elapsed().as_millis() as u64,
            summary,
            failure: None,
            states_seen: Vec::new(),
            exchanges: Vec::new(),
            children,
        }
    }

    /// Runs steps in order; after the first failure the rest are Skipped.
    async fn run_sequence(
        &self,
        steps: &[Step],
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> (Vec<StepResult>, Outcome) {
        let mut results = Vec::new();
        let mut outcome = Outcome::Passed;
        for step in steps {
            if outcome != Outcome::Passed {
                results.push(not_run(step, "not run: an earlier step did not pass"));
                continue;
            }
            let r = self.run_step(step, vars, identity).await;
            outcome = combine([r.outcome]);
            results.push(r);
        }
        (results, outcome)
    }

    fn run_step<'s>(
        &'s self,
        step: &'s Step,
        vars: &'s mut Vars,
        inherited: Option<&'s str>,
    ) -> BoxFuture<'s, StepResult> {
        async move {
            if let Some(d) = step.delay {
                tokio::time::sleep(d.0).await;
            }
            let identity = step.identity.as_deref().or(inherited);
            let started = Instant::now();
            let mut r = match step.kind() {
                StepKind::Request => self.request_step(step, vars, identity).await,
                StepKind::Poll => self.poll_step(step, vars, identity).await,
                StepKind::Parallel => self.parallel_step(step, vars, identity).await,
                StepKind::ForEach => self.for_each_step(step, vars, identity).await,
                StepKind::Use => self.use_step(step, vars, identity).await,
                StepKind::Matrix => self.matrix_step(step, vars).await,
            };
            r.duration_ms = started.elapsed().as_millis() as u64;
            r
        }
        .boxed()
    }

    fn new_result(&self, step: &Step, kind: StepKind) -> StepResult {
        step_result(&step.name, kind.as_str(), Outcome::Passed, None)
    }

    async fn send_spec(
        &self,
        spec: &RequestSpec,
        vars: &Vars,
        identity: Option<&str>,
    ) -> Result<Sent, Failure> {
        let req = prepare_request(spec, vars, self.profile, identity).map_err(|e| Failure {
            message: format!("cannot build the request: {e}"),
            expected: None,
            actual: None,
            response_excerpt: None,
            curl: None,
        })?;
        let resp = send(&self.client, &req).await.map_err(|e| e.message);
        Ok(Sent { req, resp })
    }

    fn transport_failure(sent: &Sent, message: &str) -> Failure {
        Failure {
            message: format!("{}: {message}", sent.req.line()),
            expected: Some("an HTTP response".into()),
            actual: Some(message.to_string()),
            response_excerpt: None,
            curl: Some(sent.req.curl()),
        }
    }

    fn record_latency(&self, spec: &RequestSpec, expect: &Expect, resp: &ResponseData) {
        if let Some(max) = expect.max_duration {
            let ms = resp.duration.as_secs_f64() * 1000.0;
            let m = Measurement {
                metric: format!("{} {} latency", spec.method.as_str(), spec.path),
                value: (ms * 10.0).round() / 10.0,
                unit: "ms".into(),
                target: format!("< {}ms", max.0.as_millis()),
                passed: resp.duration <= max.0,
            };
            if let Ok(mut list) = self.measurements.lock() {
                list.push(m);
            }
        }
    }

    /// One request + expect + capture. Returns the result and whether it passed.
    async fn exchange(
        &self,
        r: &mut StepResult,
        spec: &RequestSpec,
        expect: Option<&Expect>,
        capture: Option<&BTreeMap<String, CaptureSpec>>,
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> Option<ResponseData> {
        let sent = match self.send_spec(spec, vars, identity).await {
            Ok(s) => s,
            Err(f) => {
                r.outcome = Outcome::Error;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                return None;
            }
        };
        r.exchanges.push(sent.exchange());
        let resp = match &sent.resp {
            Ok(resp) => resp.clone(),
            Err(msg) => {
                let f = Self::transport_failure(&sent, msg);
                r.outcome = Outcome::Error;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                return None;
            }
        };
        r.summary = Some(format!(
            "{} in {} ms",
            resp.status,
            resp.duration.as_millis()
        ));
        if let Some(e) = expect {
            self.record_latency(spec, e, &resp);
            if let Err(m) = check_expect(e, &resp, vars) {
                let f = sent.failure(m);
                r.outcome = Outcome::Failed;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                return Some(resp);
            }
        }
        if let Some(c) = capture {
            if let Err(m) = apply_captures(c, &resp, vars) {
                let f = sent.failure(m);
                r.outcome = Outcome::Failed;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
            }
        }
        Some(resp)
    }

    async fn request_step(
        &self,
        step: &Step,
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> StepResult {
        let mut r = self.new_result(step, StepKind::Request);
        if let Some(spec) = &step.request {
            self.exchange(
                &mut r,
                spec,
                step.expect.as_ref(),
                step.capture.as_ref(),
                vars,
                identity,
            )
            .await;
        }
        r
    }

    async fn poll_step(&self, step: &Step, vars: &mut Vars, identity: Option<&str>) -> StepResult {
        let mut r = self.new_result(step, StepKind::Poll);
        let Some(poll) = &step.poll else { return r };
        let interval = poll
            .interval
            .map(|d| d.0)
            .unwrap_or(Duration::from_millis(200));
        let timeout = poll
            .timeout
            .map(|d| d.0)
            .unwrap_or_else(|| self.profile.poll_timeout());
        let started = Instant::now();
        let mut tracker = PollTracker::default();
        let mut attempts = 0usize;
        loop {
            let sent = match self.send_spec(&poll.request, vars, identity).await {
                Ok(s) => s,
                Err(f) => {
                    r.outcome = Outcome::Error;
                    r.summary = Some(f.message.clone());
                    r.failure = Some(f);
                    break;
                }
            };
            push_exchange(&mut r.exchanges, sent.exchange(), attempts);
            attempts += 1;
            let resp = match &sent.resp {
                Ok(x) => x.clone(),
                Err(msg) => {
                    let f = Self::transport_failure(&sent, msg);
                    r.outcome = Outcome::Error;
                    r.summary = Some(f.message.clone());
                    r.failure = Some(f);
                    break;
                }
            };
            let doc = resp.json();
            if let Err(m) = tracker.observe(poll, self.profile, doc.as_ref()) {
                let f = sent.failure(m);
                r.outcome = Outcome::Failed;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                break;
            }
            if check_expect(&poll.until, &resp, vars).is_ok() {
                r.summary = Some(format!(
                    "condition met after {attempts} request(s) in {:.1} s",
                    started.elapsed().as_secs_f64()
                ));
                if let Some(c) = &step.capture {
                    if let Err(m) = apply_captures(c, &resp, vars) {
                        let f = sent.failure(m);
                        r.outcome = Outcome::Failed;
                        r.summary = Some(f.message.clone());
                        r.failure = Some(f);
                    }
                }
                break;
            }
            if let Some(ff) = &poll.fail_fast {
                if check_expect(ff, &resp, vars).is_ok() {
                    let state = poll
                        .track
                        .as_ref()
                        .and(tracker.states.last().cloned())
                        .map(|s| format!(" (state `{s}`)"))
                        .unwrap_or_default();
                    let why = check_expect(&poll.until, &resp, vars).err();
                    let f = sent.failure(Mismatch {
                        message: format!(
                            "a fail_fast condition matched after {attempts} request(s){state}"
                        ),
                        expected: why
                            .as_ref()
                            .map(|m| m.expected.clone())
                            .unwrap_or_else(|| "the `until` condition".into()),
                        actual: why
                            .map(|m| m.actual)
                            .unwrap_or_else(|| "fail_fast matched".into()),
                    });
                    r.outcome = Outcome::Failed;
                    r.summary = Some(f.message.clone());
                    r.failure = Some(f);
                    break;
                }
            }
            if started.elapsed() + interval > timeout {
                let why = check_expect(&poll.until, &resp, vars).err();
                let state = match (tracker.states.last(), tracker.current_state_age()) {
                    (Some(s), Some(age)) => {
                        format!("; state stayed `{s}` for {:.1} s", age.as_secs_f64())
                    }
                    _ => String::new(),
                };
                let detail = why.as_ref().map(|m| m.message.clone()).unwrap_or_default();
                let f = sent.failure(Mismatch {
                    message: format!(
                        "timed out after {} ({attempts} requests){state}: {detail}",
                        humantime::format_duration(timeout)
                    ),
                    expected: why.as_ref().map(|m| m.expected.clone()).unwrap_or_default(),
                    actual: why.map(|m| m.actual).unwrap_or_default(),
                });
                r.outcome = Outcome::Failed;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                break;
            }
            tokio::time::sleep(interval).await;
        }
        r.states_seen = tracker.states;
        r
    }

    async fn parallel_step(
        &self,
        step: &Step,
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> StepResult {
        let mut r = self.new_result(step, StepKind::Parallel);
        let Some(par) = &step.parallel else { return r };
        let captured = captures_of(&par.steps, self.suite);
        let copies = (0..par.copies).map(|i| {
            let mut copy_vars = vars.clone();
            copy_vars.set("copy", Value::from(i));
            let captured = &captured;
            async move {
                let started = Instant::now();
                let (children, outcome) = self
                    .run_sequence(&par.steps, &mut copy_vars, identity)
                    .await;
                let caps: BTreeMap<String, Value> = captured
                    .iter()
                    .filter_map(|n| copy_vars.get(n).map(|v| (n.clone(), v.clone())))
                    .collect();
                let summary = children
                    .iter()
                    .find(|c| c.outcome != Outcome::Passed)
                    .and_then(|c| c.summary.clone());
                let res = StepResult {
                    name: format!("copy {i}"),
                    kind: "parallel".into(),
                    outcome,
                    duration_ms: started.elapsed().as_millis() as u64,
                    summary,
                    failure: None,
                    states_seen: Vec::new(),
                    exchanges: Vec::new(),
                    children,
                };
                (res, caps)
            }
        });
        let done: Vec<(StepResult, BTreeMap<String, Value>)> =
            futures::future::join_all(copies).await;
        let passed = done
            .iter()
            .filter(|(c, _)| c.outcome == Outcome::Passed)
            .count() as u32;
        let errors = done
            .iter()
            .filter(|(c, _)| c.outcome == Outcome::Error)
            .count();
        let expect = par.expect.clone().unwrap_or_default();
        let all_passed = expect
            .all_passed
            .unwrap_or(expect.min_passed.is_none() && expect.max_passed.is_none());
        let mut problems: Vec<(String, String, String)> = Vec::new();
        if errors > 0 {
            r.outcome = Outcome::Error;
            r.summary = Some(format!(
                "{errors} of {} copies could not be carried out",
                par.copies
            ));
        }
        if all_passed && passed != par.copies {
            problems.push((
                format!("{} of {} copies failed", par.copies - passed, par.copies),
                format!("all {} copies pass", par.copies),
                format!("{passed} passed"),
            ));
        }
        if let Some(max) = expect.max_passed {
            if passed > max {
                problems.push((
                    format!("{passed} copies passed, at most {max} may"),
                    format!("at most {max} passed"),
                    format!("{passed} passed"),
                ));
            }
        }
        if let Some(min) = expect.min_passed {
            if passed < min {
                problems.push((
                    format!("{passed} copies passed, at least {min} must"),
                    format!("at least {min} passed"),
                    format!("{passed} passed"),
                ));
            }
        }
        for name in &expect.distinct {
            let vals: Vec<&Value> = done.iter().filter_map(|(_, c)| c.get(name)).collect();
            let mut seen = std::collections::HashSet::new();
            let dups: Vec<String> = vals
                .iter()
                .filter(|v| !seen.insert(v.to_string()))
                .map(|v| value_text(v))
                .collect();
            if !dups.is_empty() {
                problems.push((
                    format!(
                        "`{name}` is not distinct across copies: {} repeated",
                        dups.len()
                    ),
                    format!("distinct `{name}`"),
                    format!("repeated: {}", dups.join(", ")),
                ));
            }
        }
        for name in &expect.same {
            let vals: Vec<&Value> = done.iter().filter_map(|(_, c)| c.get(name)).collect();
            let distinct: std::collections::BTreeSet<String> =
                vals.iter().map(|v| value_text(v)).collect();
            if distinct.len() > 1 {
                problems.push((
                    format!(
                        "`{name}` differs across copies ({} distinct values)",
                        distinct.len()
                    ),
                    format!("the same `{name}` in every copy"),
                    distinct.into_iter().collect::<Vec<_>>().join(", "),
                ));
            }
        }
        for (name, cap) in &par.collect {
            let arr: Vec<Value> = done
                .iter()
                .filter_map(|(_, c)| c.get(cap).cloned())
                .collect();
            vars.set(name.clone(), Value::Array(arr));
        }
        if r.outcome != Outcome::Error {
            if let Some((message, expected, actual)) = problems.into_iter().next() {
                r.outcome = Outcome::Failed;
                r.summary = Some(message.clone());
                // The first failing copy explains the response.
                let sample = done.iter().find_map(|(c, _)| first_failure(c)).cloned();
                r.failure = Some(Failure {
                    message,
                    expected: Some(expected),
                    actual: Some(actual),
                    response_excerpt: sample.as_ref().and_then(|f| f.response_excerpt.clone()),
                    curl: sample.and_then(|f| f.curl),
                });
            } else {
                r.summary = Some(format!("{passed} of {} copies passed", par.copies));
            }
        }
        r.children = done.into_iter().map(|(c, _)| c).collect();
        r
    }

    async fn for_each_step(
        &self,
        step: &Step,
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> StepResult {
        let mut r = self.new_result(step, StepKind::ForEach);
        let Some(fe) = &step.for_each else { return r };
        let var = fe.var.clone().unwrap_or_else(|| "item".into());
        let items = fe.items.clone().unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let mut inner = vars.clone();
            let item = match inner.interpolate_value(item) {
                Ok(v) => v,
                Err(e) => {
                    r.children.push(step_result(
                        &format!("[{i}]"),
                        "for_each",
                        Outcome::Error,
                        Some(simple_failure(&e.0)),
                    ));
                    continue;
                }
            };
            inner.set(var.clone(), item.clone());
            inner.set("index", Value::from(i));
            let started = Instant::now();
            let (children, outcome) = self.run_sequence(&fe.steps, &mut inner, identity).await;
            let mut label = value_text(&item);
            if label.len() > 60 {
                let mut end = 60;
                while !label.is_char_boundary(end) {
                    end -= 1;
                }
                label.truncate(end);
                label.push('…');
            }
            let summary = children
                .iter()
                .find(|c| c.outcome != Outcome::Passed)
                .and_then(|c| c.summary.clone());
            r.children.push(StepResult {
                name: format!("[{i}] {label}"),
                kind: "for_each".into(),
                outcome,
                duration_ms: started.elapsed().as_millis() as u64,
                summary,
                failure: None,
                states_seen: Vec::new(),
                exchanges: Vec::new(),
                children,
            });
        }
        r.outcome = combine(r.children.iter().map(|c| c.outcome));
        let failed = r
            .children
            .iter()
            .filter(|c| c.outcome != Outcome::Passed)
            .count();
        r.summary = Some(if failed == 0 {
            format!("{} item(s) passed", items.len())
        } else {
            format!("{failed} of {} item(s) did not pass", items.len())
        });
        if r.outcome != Outcome::Passed {
            r.failure = r
                .children
                .iter()
                .find_map(first_failure)
                .cloned()
                .map(|mut f| {
                    f.message = format!("{}: {}", r.summary.clone().unwrap_or_default(), f.message);
                    f
                });
        }
        r
    }

    async fn use_step(&self, step: &Step, vars: &mut Vars, identity: Option<&str>) -> StepResult {
        let mut r = self.new_result(step, StepKind::Use);
        let Some(name) = &step.use_template else {
            return r;
        };
        let Some(t) = self.suite.template(name) else {
            r.outcome = Outcome::Error;
            r.failure = Some(simple_failure(&format!("unknown template `{name}`")));
            return r;
        };
        let mut inner = vars.clone();
        if let Some(with) = &step.with {
            for (k, v) in with {
                match vars.interpolate_value(v) {
                    Ok(x) => inner.set(k.clone(), x),
                    Err(e) => {
                        r.outcome = Outcome::Error;
                        r.failure = Some(simple_failure(&format!("parameter `{k}`: {e}")));
                        return r;
                    }
                }
            }
        }
        let (children, outcome) = self.run_sequence(&t.steps, &mut inner, identity).await;
        for cap in captures_of(&t.steps, self.suite) {
            if let Some(v) = inner.get(&cap) {
                vars.set(cap, v.clone());
            }
        }
        r.outcome = outcome;
        if outcome != Outcome::Passed {
            if let Some(c) = children.iter().find(|c| c.outcome != Outcome::Passed) {
                r.summary = Some(format!(
                    "step `{}`: {}",
                    c.name,
                    c.summary.clone().unwrap_or_default()
                ));
            }
            r.failure = children.iter().find_map(first_failure).cloned();
        } else {
            r.summary = Some(format!(
                "template `{name}`: {} step(s) passed",
                children.len()
            ));
        }
        r.children = children;
        r
    }

    async fn matrix_request(
        &self,
        name: String,
        mr: &MatrixRequest,
        vars: &mut Vars,
        identity: &str,
        fallback_expect: Option<&Expect>,
    ) -> (StepResult, Option<ResponseData>) {
        let mut r = step_result(&name, "matrix", Outcome::Passed, None);
        let started = Instant::now();
        let expect = mr.expect.as_ref().or(fallback_expect);
        let resp = self
            .exchange(
                &mut r,
                &mr.request,
                expect,
                mr.capture.as_ref(),
                vars,
                Some(identity),
            )
            .await;
        r.duration_ms = started.elapsed().as_millis() as u64;
        (r, resp)
    }

    async fn matrix_step(&self, step: &Step, vars: &mut Vars) -> StepResult {
        let mut r = self.new_result(step, StepKind::Matrix);
        let Some(m) = &step.matrix else { return r };
        let mut cells = 0usize;
        let mut leaks = 0usize;
        for owner in &m.owners {
            let mut ovars = vars.clone();
            ovars.set("owner", Value::String(owner.clone()));
            ovars.set("intruder", Value::String(String::new()));
            let (create, resp) = self
                .matrix_request(
                    format!("{owner}: create"),
                    &m.create,
                    &mut ovars,
                    owner,
                    None,
                )
                .await;
            let create_ok = create.outcome == Outcome::Passed;
            r.children.push(create);
            let Some(resp) = resp.filter(|_| create_ok) else {
                continue;
            };
            // Marker values: what must never show in an intruder's response.
            let mut markers: Vec<String> = Vec::new();
            if let Some(doc) = resp.json() {
                for mk in &m.markers {
                    if let Ok(Some(v)) = query_json(mk, &doc) {
                        let vals = match v {
                            Value::Array(items) if !crate::assert::is_singular_path(mk) => items,
                            other => vec![other],
                        };
                        for v in vals {
                            let t = value_text(&v);
                            if !v.is_null() && t.len() >= 4 {
                                markers.push(t);
                            }
                        }
                    }
                }
            }
            for intruder in m.intruders.iter().filter(|i| *i != owner) {
                let mut ivars = ovars.clone();
                ivars.set("intruder", Value::String(intruder.clone()));
                for attempt in &m.attempts {
                    cells += 1;
                    let mr = MatrixRequest {
                        request: attempt.request.clone(),
                        expect: Some(m.denied.clone()),
                        capture: None,
                    };
                    let (mut cell, resp) = self
                        .matrix_request(
                            format!("{intruder} → {owner}: {}", attempt.name),
                            &mr,
                            &mut ivars,
                            intruder,
                            None,
                        )
                        .await;
                    if let Some(resp) = &resp {
                        if let Some(leak) = find_leak(resp, &markers) {
                            leaks += 1;
                            let curl = cell.failure.as_ref().and_then(|f| f.curl.clone());
                            let also = cell
                                .failure
                                .as_ref()
                                .map(|f| format!("; {}", f.message))
                                .unwrap_or_default();
                            cell.outcome = Outcome::Failed;
                            let f = Failure {
                                message: format!("{intruder}'s response to `{}` leaks {owner}'s value `{leak}`{also}", attempt.name),
                                expected: Some(format!("no value of {owner}'s resource")),
                                actual: Some(format!("`{leak}` in the response")),
                                response_excerpt: Some(excerpt(&resp.body, EXCERPT_BYTES)),
                                curl: curl.or_else(|| {
                                    prepare_request(&attempt.request, &ivars, self.profile, Some(intruder)).ok().map(|p| p.curl())
                                }),
                            };
                            cell.summary = Some(f.message.clone());
                            cell.failure = Some(f);
                        }
                    }
                    r.children.push(cell);
                }
                if let Some(list) = &m.list {
                    cells += 1;
                    let (mut cell, resp) = self
                        .matrix_request(
                            format!("{intruder} → {owner}: list"),
                            list,
                            &mut ivars,
                            intruder,
                            None,
                        )
                        .await;
                    if let Some(resp) = &resp {
                        if let Some(leak) = find_leak(resp, &markers) {
                            leaks += 1;
                            cell.outcome = Outcome::Failed;
                            let f = Failure {
                                message: format!(
                                    "{intruder}'s list leaks {owner}'s value `{leak}`"
                                ),
                                expected: Some(format!("no value of {owner}'s resource")),
                                actual: Some(format!("`{leak}` in the response")),
                                response_excerpt: Some(excerpt(&resp.body, EXCERPT_BYTES)),
                                curl: prepare_request(
                                    &list.request,
                                    &ivars,
                                    self.profile,
                                    Some(intruder),
                                )
                                .ok()
                                .map(|p| p.curl()),
                            };
                            cell.summary = Some(f.message.clone());
                            cell.failure = Some(f);
                        }
                    }
                    r.children.push(cell);
                }
            }
            if let Some(verify) = &m.verify {
                let mut vvars = ovars.clone();
                let (cell, _) = self
                    .matrix_request(format!("{owner}: verify"), verify, &mut vvars, owner, None)
                    .await;
                r.children.push(cell);
            }
        }
        r.outcome = combine(r.children.iter().map(|c| c.outcome));
        let bad = r
            .children
            .iter()
            .filter(|c| c.outcome != Outcome::Passed)
            .count();
        r.summary = Some(format!(
            "{cells} intruder cell(s), {leaks} leak(s), {bad} check(s) did not pass"
        ));
        if r.outcome != Outcome::Passed {
            if let Some(c) = r.children.iter().find(|c| c.outcome != Outcome::Passed) {
                r.failure = c.failure.clone().map(|mut f| {
                    f.message = format!("{}: {}", c.name, f.message);
                    f
                });
            }
        }
        r
    }
}

fn find_leak(resp: &ResponseData, markers: &[String]) -> Option<String> {
    let body = resp.text();
    markers.iter().find(|m| body.contains(m.as_str())).cloned()
}

fn first_failure(s: &StepResult) -> Option<&Failure> {
    if s.failure.is_some() {
        return s.failure.as_ref();
    }
    s.children.iter().find_map(first_failure)
}

fn not_run(step: &Step, why: &str) -> StepResult {
    let mut r = step_result(&step.name, step.kind().as_str(), Outcome::Skipped, None);
    r.summary = Some(why.to_string());
    r
}
