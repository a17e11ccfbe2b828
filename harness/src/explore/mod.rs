//! `flowgate explore`: a seeded, reproducible random walk over the operations a target
//! profile declares (`explore:`), as the profile's identities and identities derived from
//! them, with every property of the profile checked over the walk's history as it goes.
//! When one breaks, the walk is shrunk to a short scenario that still breaks it
//! ([`shrink`]), which `flowgate run` replays and a suite can keep as a regression test.
//!
//! - [`plan`]: the walk as data, a pure function of the seed;
//! - this module: running it in chunks, checking, reporting;
//! - [`shrink`]: delta debugging over the executed steps, time-preserving.

mod plan;
mod shrink;
mod spec;

pub(crate) use spec::spec_errors;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use flowgate_reports::{
    Failure, GatingPolicy, Outcome, RunReport, ScenarioResult, Severity, StepResult,
};
use serde_json::{json, Value};

use crate::interp::Vars;
use crate::profile::Profile;
use crate::run::exec::{Exec, ThrottleBudget};
use crate::run::history::{History, Observation};
use crate::run::{cleanup, http::build_client, probe, properties};
use crate::spec::model::{ExploreSpec, Step};
use crate::suite::Suite;

pub(crate) use plan::Planned;

/// The id of the walk in reports.
const WALK_ID: &str = "explore/walk";
/// Steps between two checks of every property.
const CHECK_EVERY: usize = 100;

/// How to explore.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    pub seed: u64,
    /// Steps in all (shared between the walkers).
    pub steps: usize,
    /// Stop taking steps after this long (the checks, settling and shrinking follow).
    pub duration: Duration,
    /// Walkers at once, each with its own sequence (seeded from `seed`).
    pub concurrency: usize,
    /// Shrink a broken property's walk to a minimal repro.
    pub shrink: bool,
    /// Print a line per check.
    pub progress: bool,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            seed: 1,
            steps: 500,
            duration: Duration::from_secs(300),
            concurrency: 1,
            shrink: true,
            progress: false,
        }
    }
}

/// What an exploration found.
#[derive(Debug, Clone)]
pub struct Exploration {
    /// The walk and every property, as a run's report (all four formats render it).
    pub report: RunReport,
    pub seed: u64,
    /// Steps taken (of the walk, not counting settling and shrinking).
    pub steps_run: usize,
    /// How long the steps took.
    pub walk_time: Duration,
    /// The first property broken, if any.
    pub found: Option<Finding>,
}

/// A broken property, when it was found, and its shrunk reproduction.
#[derive(Debug, Clone)]
pub struct Finding {
    pub property: String,
    /// Steps taken when the check saw it.
    pub after_steps: usize,
    /// Time from the first step to that check.
    pub after: Duration,
    pub repro: Option<Repro>,
}

/// A scenario that breaks the property again.
#[derive(Debug, Clone)]
pub struct Repro {
    /// The scenario file's text.
    pub yaml: String,
    pub steps: usize,
    /// Whether the shrunk scenario broke the property when replayed (false: the walk's
    /// own steps are given, unshrunk, because no replay broke it again).
    pub reproduced: bool,
    pub replays: usize,
    /// The steps' names, in order (the sequence in one line of a report).
    pub step_names: Vec<String>,
}

/// The walk of `seed` as scenario YAML, without running it (same seed, same text).
pub fn plan_yaml(profile: &Profile, seed: u64, steps: usize) -> Option<String> {
    let spec = profile.spec.explore.as_ref()?;
    let planned = plan::plan(profile, spec, walker_seed(seed, 0), "", steps);
    Some(scenario_yaml(
        &format!("explore walk, seed {seed}"),
        &format!("The first {steps} steps of `flowgate explore --seed {seed}`."),
        &planned.into_iter().map(|p| p.step).collect::<Vec<_>>(),
    ))
}

fn walker_seed(seed: u64, walker: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(walker as u64)
}

/// A step as executed: where its exchanges are in the history, how long it took, and
/// whether the variable it defines got a value.
#[derive(Debug, Clone)]
pub(crate) struct Executed {
    pub(crate) planned: Planned,
    pub(crate) started: Duration,
    pub(crate) took: Duration,
    /// History counter after the step (its exchanges are at or below it).
    pub(crate) seq_after: u64,
    pub(crate) defined: bool,
    /// The id its create captured.
    pub(crate) id: Option<String>,
}

/// One walker: its plan, its variables, what it created.
struct Walker<'a> {
    exec: Exec<'a>,
    vars: Vars,
    plan: Vec<Planned>,
    next: usize,
    executed: Vec<Executed>,
}

/// Runs steps on a fresh executor and returns its history: the replay of a candidate.
pub(crate) struct Runner<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) client: reqwest::Client,
    pub(crate) suite: Suite,
    pub(crate) run_id: String,
}

impl<'a> Runner<'a> {
    fn walker(&'a self, history: Arc<History>, plan: Vec<Planned>) -> Walker<'a> {
        Walker {
            exec: Exec {
                suite: &self.suite,
                profile: self.profile,
                client: self.client.clone(),
                measurements: Mutex::new(Vec::new()),
                created: Mutex::new(Vec::new()),
                answered: Arc::default(),
                history,
                throttle_budget: ThrottleBudget::of(self.profile),
                scenario_id: WALK_ID.to_string(),
            },
            vars: profile_vars(self.profile, &self.run_id),
            plan,
            next: 0,
            executed: Vec::new(),
        }
    }

    /// Replays `steps` in order on a fresh history; returns that history.
    pub(crate) async fn replay(&self, steps: &[Value]) -> Vec<Observation> {
        let history = Arc::new(History::new(true));
        let plan = steps
            .iter()
            .map(|s| Planned {
                step: s.clone(),
                defines: None,
                uses: Vec::new(),
            })
            .collect();
        let mut w = self.walker(history.clone(), plan);
        let origin = Instant::now();
        while w.next < w.plan.len() {
            w.step(&origin).await;
        }
        w.clean_up().await;
        history.take().0
    }
}

impl Walker<'_> {
    async fn step(&mut self, origin: &Instant) {
        let Some(planned) = self.plan.get(self.next).cloned() else {
            return;
        };
        self.next += 1;
        let started = origin.elapsed();
        if let Ok(step) = serde_json::from_value::<Step>(planned.step.clone()) {
            let _ = self.exec.run_step(&step, &mut self.vars, None).await;
        }
        let id = planned
            .defines
            .as_deref()
            .and_then(|v| self.vars.get(v))
            .filter(|x| !x.is_null())
            .map(crate::interp::value_text);
        self.executed.push(Executed {
            defined: id.is_some(),
            planned,
            started,
            took: origin.elapsed().saturating_sub(started),
            seq_after: self.exec.history.sent(),
            id,
        });
    }

    async fn clean_up(&self) -> flowgate_reports::Cleanup {
        let created = self
            .exec
            .created
            .lock()
            .map(|mut list| std::mem::take(&mut *list))
            .unwrap_or_default();
        cleanup::remove_all(
            &self.exec.client,
            self.exec.profile,
            created,
            &self.exec.history,
            WALK_ID,
        )
        .await
    }
}

/// The profile's variables, as every scenario starts with them.
fn profile_vars(profile: &Profile, run_id: &str) -> Vars {
    let mut vars = Vars::new(run_id, WALK_ID);
    for (k, v) in &profile.spec.variables {
        if let Ok(x) = vars.interpolate_value(v) {
            vars.set(k.clone(), x);
        }
    }
    vars
}

/// The first property that failed, if any.
fn first_broken(results: &[ScenarioResult]) -> Option<&ScenarioResult> {
    results.iter().find(|r| r.outcome == Outcome::Failed)
}

/// Everything a failed property says: its violations and the exchanges they name.
fn failure_text(result: &ScenarioResult) -> String {
    result
        .steps
        .iter()
        .filter_map(|s| s.failure.as_ref())
        .map(|f| {
            format!(
                "{}\n{}\n",
                f.message,
                f.actual.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// The exchange numbers (`#12`) a failed property's text names.
pub(crate) fn named_exchanges(text: &str) -> Vec<u64> {
    let mut out: Vec<u64> = text
        .split('#')
        .skip(1)
        .filter_map(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Explores the profile's target. The caller has checked that it answers.
pub async fn explore(profile: &Profile, opts: ExploreOptions) -> Exploration {
    let started_at = Utc::now();
    let run_started = Instant::now();
    let mut report = RunReport::new(
        probe::unprobed_target(profile),
        GatingPolicy { fail_on: None },
        started_at,
    );
    let empty = |report: RunReport| Exploration {
        report,
        seed: opts.seed,
        steps_run: 0,
        walk_time: Duration::ZERO,
        found: None,
    };
    let Some(spec) = profile.spec.explore.as_ref() else {
        return empty(report);
    };
    let client = match build_client(profile.spec.follow_redirects) {
        Ok(c) => c,
        Err(e) => {
            report.scenarios.push(walk_result(
                opts.seed,
                Outcome::Error,
                vec![simple_step("walk", Outcome::Error, &e)],
            ));
            return empty(report);
        }
    };
    if let Ok(t) = probe::probe_with(&client, profile).await {
        report.target = t;
    }
    let runner = Runner {
        profile,
        client,
        suite: Suite::default(),
        run_id: uuid::Uuid::new_v4().to_string(),
    };
    let history = Arc::new(History::new(true));
    let walkers_n = opts.concurrency.max(1);
    let per_walker = opts.steps.div_ceil(walkers_n);
    let mut walkers: Vec<Walker> = (0..walkers_n)
        .map(|k| {
            let prefix = if walkers_n == 1 {
                String::new()
            } else {
                format!("w{k}_")
            };
            let steps = per_walker.min(opts.steps.saturating_sub(k * per_walker));
            let plan = plan::plan(profile, spec, walker_seed(opts.seed, k), &prefix, steps);
            runner.walker(history.clone(), plan)
        })
        .collect();

    let origin = Instant::now();
    let mut found: Option<(ScenarioResult, usize, Duration)> = None;
    let mut last_results = Vec::new();
    let mut steps_run = 0;
    loop {
        let more = walkers.iter().any(|w| w.next < w.plan.len());
        if !more || origin.elapsed() >= opts.duration {
            break;
        }
        let deadline = opts.duration;
        futures::future::join_all(walkers.iter_mut().map(|w| async {
            for _ in 0..CHECK_EVERY {
                if w.next >= w.plan.len() || origin.elapsed() >= deadline {
                    break;
                }
                w.step(&origin).await;
            }
        }))
        .await;
        steps_run = walkers.iter().map(|w| w.executed.len()).sum();
        let (observed, dropped) = history.snapshot();
        last_results = properties::check(&observed, dropped, profile);
        if opts.progress {
            println!(
                "  {steps_run} steps, {} exchanges, {:.1} s: {}",
                observed.len(),
                origin.elapsed().as_secs_f64(),
                first_broken(&last_results)
                    .map(|r| format!("{} BROKEN", r.id))
                    .unwrap_or_else(|| "every property holds".into())
            );
        }
        if let Some(r) = first_broken(&last_results) {
            found = Some((r.clone(), steps_run, origin.elapsed()));
            break;
        }
    }
    let walk_time = origin.elapsed();

    // Settle: after the longest max_dwell, look once more at everything the walk
    // created, so that a resource nobody picked up (a backlog after a burst) shows.
    if found.is_none() {
        let settle = settle_steps(profile, spec, &walkers);
        for (w, steps) in walkers.iter_mut().zip(settle) {
            w.plan.extend(steps);
        }
        futures::future::join_all(walkers.iter_mut().map(|w| async {
            while w.next < w.plan.len() {
                w.step(&origin).await;
            }
        }))
        .await;
        let (observed, dropped) = history.snapshot();
        last_results = properties::check(&observed, dropped, profile);
        if let Some(r) = first_broken(&last_results) {
            found = Some((r.clone(), steps_run, origin.elapsed()));
        }
        if opts.progress {
            println!(
                "  settled: {}",
                first_broken(&last_results)
                    .map(|r| format!("{} BROKEN", r.id))
                    .unwrap_or_else(|| "every property holds".into())
            );
        }
    }
    let mut care = flowgate_reports::Cleanup::default();
    for w in &walkers {
        let c = w.clean_up().await;
        care.created += c.created;
        care.deleted += c.deleted;
        care.left_behind.extend(c.left_behind);
    }

    let executed: Vec<Executed> = {
        let mut all: Vec<Executed> = walkers.iter().flat_map(|w| w.executed.clone()).collect();
        all.sort_by_key(|e| e.started);
        all
    };
    let exchanges = history.sent();
    let mut finding = None;
    if let Some((broken, after_steps, after)) = &found {
        let property = broken.id.trim_start_matches("properties/").to_string();
        let repro = if opts.shrink {
            if opts.progress {
                println!("  shrinking the walk that broke {property}…");
            }
            let text = failure_text(broken);
            Some(shrink::shrink(&runner, &executed, &text, &broken.id, opts.seed).await)
        } else {
            None
        };
        finding = Some(Finding {
            property,
            after_steps: *after_steps,
            after: *after,
            repro,
        });
    }

    // The report: the walk, then every property as the last check saw it.
    let mut walk_steps = vec![summary_step(
        &executed, steps_run, walk_time, exchanges, walkers_n,
    )];
    if let Some(f) = &finding {
        walk_steps.push(simple_step(
            "first broken property",
            Outcome::Passed,
            &format!(
                "{} broken after {} steps ({:.1} s)",
                f.property,
                f.after_steps,
                f.after.as_secs_f64()
            ),
        ));
    }
    let mut walk = walk_result(opts.seed, Outcome::Passed, walk_steps);
    walk.cleanup = Some(care);
    report.scenarios.push(walk);
    for mut r in last_results {
        if let (Some(f), true) = (&finding, r.outcome == Outcome::Failed) {
            if let (Some(repro), true) = (&f.repro, r.id.ends_with(&f.property)) {
                r.steps.push(repro_step(repro, &f.property));
            }
        }
        report.scenarios.push(r);
    }
    report.selection = flowgate_reports::Selection {
        suite_categories: vec!["explore".into()],
        suite_scenarios: 1,
        filters: vec![format!(
            "--seed {} --steps {} --concurrency {walkers_n}",
            opts.seed, opts.steps
        )],
        suite_digest: None,
        certify: false,
        min_coverage: None,
    };
    report.finished_at = Utc::now();
    report.duration_ms = run_started.elapsed().as_millis() as u64;
    Exploration {
        report,
        seed: opts.seed,
        steps_run,
        walk_time,
        found: finding,
    }
}

/// For each walker: wait out the longest `max_dwell`, then re-read each resource it
/// created and list as each of its identities.
fn settle_steps(profile: &Profile, spec: &ExploreSpec, walkers: &[Walker]) -> Vec<Vec<Planned>> {
    let dwell = profile
        .spec
        .properties
        .as_ref()
        .and_then(|p| p.state_machine.as_ref())
        .and_then(|m| profile.spec.state_machines.get(m))
        .and_then(|m| m.max_dwell.values().map(|d| d.0).max());
    let Some(dwell) = dwell else {
        return walkers.iter().map(|_| Vec::new()).collect();
    };
    let wait = (dwell + Duration::from_secs(1)).min(Duration::from_secs(60));
    let reread = plan::reread_operation(spec);
    let lists: Vec<_> = spec
        .operations
        .iter()
        .filter(|o| {
            !o.request.contains('{')
                && o.body.is_none()
                && o.request.trim_start().starts_with("GET")
        })
        .collect();
    walkers
        .iter()
        .map(|w| {
            let mut out = Vec::new();
            let mut identities: Vec<String> = Vec::new();
            for e in w.executed.iter().filter(|e| e.defined) {
                let (Some(var), Some(op)) = (&e.planned.defines, reread) else {
                    continue;
                };
                let who = e.planned.step.get("as").and_then(Value::as_str).unwrap_or_default();
                if !identities.iter().any(|i| i == who) {
                    identities.push(who.to_string());
                }
                let path = op.request.split_whitespace().nth(1).unwrap_or("/");
                out.push(Planned {
                    step: json!({
                        "name": format!("settle: {} of {var}", op.name),
                        "as": who,
                        "request": { "method": "GET", "path": path.replace("{id}", &format!("{{{{ {var} }}}}")) },
                    }),
                    defines: None,
                    uses: vec![var.clone()],
                });
            }
            for who in &identities {
                for op in &lists {
                    let path = op.request.split_whitespace().nth(1).unwrap_or("/");
                    out.push(Planned {
                        step: json!({
                            "name": format!("settle: {} as {who}", op.name),
                            "as": who,
                            "request": { "method": "GET", "path": path },
                        }),
                        defines: None,
                        uses: Vec::new(),
                    });
                }
            }
            if let Some(first) = out.first_mut() {
                if let Some(m) = first.step.as_object_mut() {
                    m.insert("delay".into(), json!(format!("{}ms", wait.as_millis())));
                }
            }
            out
        })
        .collect()
}

fn simple_step(name: &str, outcome: Outcome, summary: &str) -> StepResult {
    let mut s = crate::run::result::step_result(name, "explore", outcome, None);
    s.summary = Some(summary.to_string());
    s
}

fn summary_step(
    executed: &[Executed],
    steps_run: usize,
    walk_time: Duration,
    exchanges: u64,
    walkers: usize,
) -> StepResult {
    let mut by_op: std::collections::BTreeMap<String, usize> = Default::default();
    for e in executed {
        let name = e
            .planned
            .step
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let op = name
            .split_once(": ")
            .map(|(_, rest)| rest.split(" as ").next().unwrap_or(rest))
            .unwrap_or(name);
        let op = op.split(" of ").next().unwrap_or(op).to_string();
        *by_op.entry(op).or_default() += 1;
    }
    let ops = by_op
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let per_s = steps_run as f64 / walk_time.as_secs_f64().max(1e-3);
    simple_step(
        "walk",
        Outcome::Passed,
        &format!(
            "{steps_run} steps by {walkers} walker(s) in {:.1} s ({per_s:.0} steps/s), {exchanges} exchanges; {ops}",
            walk_time.as_secs_f64()
        ),
    )
}

fn repro_step(repro: &Repro, property: &str) -> StepResult {
    let message = if repro.reproduced {
        format!(
            "shrunk to {} steps that break `{property}` again ({} replays), in repro-{property}.yaml: {}",
            repro.steps,
            repro.replays,
            repro.step_names.join(" → ")
        )
    } else {
        format!(
            "no replay broke `{property}` again ({} replays): the walk's {} steps are given unshrunk in repro-{property}.yaml",
            repro.replays, repro.steps
        )
    };
    let failure = Failure {
        message,
        expected: None,
        actual: Some(repro.yaml.clone()),
        response_excerpt: None,
        curl: None,
    };
    crate::run::result::step_result("reproduction", "explore", Outcome::Failed, Some(failure))
}

fn walk_result(seed: u64, outcome: Outcome, steps: Vec<StepResult>) -> ScenarioResult {
    ScenarioResult {
        requirement: Some(
            "A seeded random walk over the profile's operations, as its identities and identities derived from them, breaks no property.".into(),
        ),
        tags: vec!["explore".into()],
        description: Some(format!(
            "`flowgate explore --seed {seed}` gives the same sequence of steps again."
        )),
        ..crate::run::result::generated_result(
            WALK_ID.into(),
            format!("Random walk, seed {seed}"),
            "(target profile: explore)",
            "explore",
            Severity::High,
            outcome,
            steps,
        )
    }
}

/// A scenario file holding `steps`.
pub(crate) fn scenario_yaml(name: &str, description: &str, steps: &[Value]) -> String {
    let doc = json!({
        "name": name,
        "category": "explore",
        "severity": "high",
        "description": description,
        "tags": ["explore", "regression"],
        "steps": steps,
    });
    serde_yaml_ng::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "name: t\nbase_url: http://127.0.0.1:1\n\
        identities:\n\
        \x20 a: { headers: { Authorization: key-a, X-Tenant: ta } }\n\
        \x20 b: { headers: { Authorization: key-b, X-Tenant: tb } }\n\
        variables: { tenant_b: tb }\n\
        properties:\n  credentials: [Authorization]\n  scopes: { a: a, b: b }\n\
        explore:\n  operations:\n\
        \x20   - { name: create, request: POST /things, creates: \"$.id\", body: { name: { $text: canary } } }\n\
        \x20   - { name: read, request: \"GET /things/{id}\" }\n\
        \x20   - { name: list, request: GET /things, query: { limit: { $one_of: [null, 1, 5] } } }\n\
        \x20   - { name: pause, request: \"POST /things/{id}/pause\" }\n";

    fn profile(text: &str) -> Result<Profile, crate::ParseErrors> {
        Profile::parse(text, "t.target.yaml", &crate::EnvMap::default())
    }

    #[test]
    fn the_same_seed_plans_the_same_walk_and_uses_only_defined_variables() {
        let p = profile(PROFILE).expect("profile");
        let a = plan_yaml(&p, 3, 300).expect("a walk");
        assert_eq!(Some(a.clone()), plan_yaml(&p, 3, 300));
        assert_ne!(Some(a), plan_yaml(&p, 4, 300));
        let spec = p.spec.explore.as_ref().expect("explore");
        let walk = plan::plan(&p, spec, 3, "", 300);
        assert_eq!(walk.len(), 300);
        let mut defined = Vec::new();
        for step in &walk {
            for u in &step.uses {
                assert!(
                    defined.contains(u),
                    "{u} used before its create: {:?}",
                    step.step
                );
            }
            defined.extend(step.defines.clone());
            // Every step is a scenario step the runner accepts.
            serde_json::from_value::<Step>(step.step.clone()).expect("a scenario step");
        }
    }

    #[test]
    fn derived_identities_change_one_header_and_name_variables_not_values() {
        let p = profile(PROFILE).expect("profile");
        let d = plan::derivations(&p, "a", &["a".into(), "b".into()]);
        let labels: Vec<&str> = d.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Authorization removed",
                "Authorization corrupted",
                "X-Tenant removed",
                "X-Tenant malformed",
                "X-Tenant of b"
            ]
        );
        assert_eq!(
            d[4].headers.get("X-Tenant"),
            Some(&Some("{{ tenant_b }}".to_string()))
        );
    }

    #[test]
    fn a_bad_explore_section_is_located() {
        let bad = PROFILE.replace("{ $one_of: [null, 1, 5] }", "{ $pick: [1] }");
        let e = profile(&bad).expect_err("unknown generator").to_string();
        assert!(e.contains("t.target.yaml:"), "{e}");
        assert!(e.contains("unknown generator `$pick`"), "{e}");
        let none = PROFILE.replace(", creates: \"$.id\"", "");
        let e = profile(&none).expect_err("nothing creates").to_string();
        assert!(e.contains("no operation `creates` a resource"), "{e}");
    }
}
