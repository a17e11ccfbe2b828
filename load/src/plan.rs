//! A load phase ready to run, built from a loaded scenario's `load:` section and a
//! target profile: the shape of the load (users, ramp, stop condition, think time,
//! throttle), the identities, the transactions and the thresholds.
//!
//! Steps stay in the harness's own model: the engine builds, checks and captures them
//! with the harness's functions, so a load step means exactly what a functional step
//! means.

use std::sync::Arc;
use std::time::Duration;

use flowgate_harness::model::{CaptureSpec, Expect, Poll, RequestSpec, Step};
use flowgate_harness::spec::parse_think_time;
use flowgate_harness::{Profile, SuiteScenario, Vars};
use flowgate_reports::Severity;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use flowgate_harness::spec::threshold::{validate_thresholds, Threshold};

/// A request step: what to send, what it must answer, what it captures.
#[derive(Debug, Clone)]
pub struct RequestPlan {
    pub spec: RequestSpec,
    pub expect: Option<Expect>,
    pub capture: Option<BTreeMap<String, CaptureSpec>>,
}

/// A poll step: the harness's poll, with its interval and timeout resolved.
#[derive(Debug, Clone)]
pub struct PollPlan {
    pub poll: Poll,
    pub capture: Option<BTreeMap<String, CaptureSpec>>,
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum StepAction {
    Request(Box<RequestPlan>),
    Poll(Box<PollPlan>),
}

/// One step; goose records its requests under `name`.
#[derive(Debug, Clone)]
pub struct StepPlan {
    pub name: String,
    /// `as:` on the step: this identity instead of the user's.
    pub identity: Option<String>,
    /// Wait before the step.
    pub delay: Option<Duration>,
    pub action: StepAction,
}

/// A weighted transaction: one goose scenario. goose assigns users to transactions by
/// weight, and each user repeats its transaction.
#[derive(Debug, Clone)]
pub struct TransactionPlan {
    pub name: String,
    pub weight: usize,
    pub steps: Vec<StepPlan>,
}

/// When the phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAfter {
    /// Keep every user running this long once all have started.
    Duration(Duration),
    /// Each user runs its transaction this many times.
    Iterations(usize),
}

/// Command-line overrides of a load phase (`flowgate load --duration 24h --users 50`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces `duration` (and `iterations`: the phase then runs for this long).
    pub duration: Option<Duration>,
    pub users: Option<usize>,
    /// At most this many users (a bounded run, e.g. in `flowgate validate`).
    pub max_users: Option<usize>,
    /// At most this long (a duration phase is shortened; iterations are kept).
    pub max_duration: Option<Duration>,
    /// Run one shard of the phase (`--shard I/N`).
    pub shard: Option<Shard>,
}

/// One of `count` shards of a load phase (`--shard I/N`, 0-based like Kubernetes'
/// `JOB_COMPLETION_INDEX`). Users are split by global user index: shard `i` runs users
/// `[U·i/N, U·(i+1)/N)`, so the shards' users add up to the phase's; the ramp-up rate and
/// the throttle are split in the same proportion, and each shard's users take identities
/// round-robin from their global index, as one process would have given them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let err = || {
            format!(
                "`{s}`: expected I/N with 0 <= I < N (e.g. 0/3, as JOB_COMPLETION_INDEX counts)"
            )
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(err)?;
        let index: usize = i.trim().parse().map_err(|_| err())?;
        let count: usize = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The global user indexes `[start, end)` this shard runs, of `users`.
    pub fn users(&self, users: usize) -> (usize, usize) {
        let at = |i: usize| users.saturating_mul(i) / self.count;
        (at(self.index), at(self.index + 1))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A load phase, ready to run.
#[derive(Clone)]
pub struct LoadPlan {
    /// Scenario id (file path under the suite root, without extension).
    pub id: String,
    pub name: String,
    pub severity: Severity,
    pub profile: Arc<Profile>,
    pub run_id: String,
    pub users: usize,
    /// Users started per second.
    pub increase_rate: f64,
    pub stop: StopAfter,
    /// Pause between transactions, uniform in `(min, max)`.
    pub think_time: Option<(Duration, Duration)>,
    /// Why this run is only a smoke load (bounded below what the scenario declares), or
    /// `None` when it runs as declared.
    pub smoke: Option<String>,
    /// Cap on requests per second over all users.
    pub throttle: Option<usize>,
    /// The identities users are spread over, round-robin per transaction.
    pub identities: Vec<String>,
    /// Profile variables, interpolated once.
    pub variables: Vars,
    /// Scenario variables, interpolated at the start of each transaction (so
    /// `{{ uuid }}` in them is fresh per transaction).
    pub scenario_variables: Map<String, Value>,
    pub transactions: Vec<TransactionPlan>,
    pub thresholds: Vec<Threshold>,
    /// Time-series bucket; `None` picks one from the run length.
    pub window: Option<Duration>,
    /// The shard this plan runs, if the phase is split (`--shard`).
    pub shard: Option<Shard>,
    /// Global index of this plan's first user (identities continue from it).
    pub first_user: usize,
}

impl LoadPlan {
    /// Builds the plan of a load scenario. Errors name what is wrong in the scenario's
    /// terms (the harness's loader has already checked the structure).
    pub fn from_scenario(
        scenario: &SuiteScenario,
        profile: Arc<Profile>,
        run_id: &str,
        overrides: &Overrides,
    ) -> Result<LoadPlan, String> {
        let sc = &scenario.scenario;
        let load = sc
            .load
            .as_ref()
            .ok_or_else(|| format!("`{}` has no `load:` section", scenario.file))?;
        let users = overrides
            .users
            .unwrap_or_else(|| usize::try_from(load.users).unwrap_or(usize::MAX));
        let users = overrides.max_users.map_or(users, |m| users.min(m));
        let stop = match (overrides.duration, load.duration, load.iterations) {
            (Some(d), _, _) => StopAfter::Duration(d),
            (None, Some(d), _) => StopAfter::Duration(d.0),
            (None, None, Some(n)) => {
                StopAfter::Iterations(usize::try_from(n).unwrap_or(usize::MAX))
            }
            (None, None, None) => {
                return Err("a load phase needs `duration` or `iterations`".into());
            }
        };
        let stop = match (stop, overrides.max_duration) {
            (StopAfter::Duration(d), Some(max)) => StopAfter::Duration(d.min(max)),
            (stop, _) => stop,
        };
        let rate = load.increase_rate.unwrap_or(users as f64);
        let throttle = load
            .throttle
            .map(|t| usize::try_from(t).unwrap_or(usize::MAX));
        let (users_here, first_user, rate, throttle) = match overrides.shard {
            None => (users, 0, rate, throttle),
            Some(shard) => {
                let (start, end) = shard.users(users);
                if end == start {
                    return Err(format!(
                        "shard {shard} has no users: {users} users cannot be split {} ways",
                        shard.count
                    ));
                }
                let part = (end - start) as f64 / users as f64;
                let throttle = throttle.map(|t| ((t as f64 * part).ceil() as usize).max(1));
                (end - start, start, rate * part, throttle)
            }
        };
        let declared_users = usize::try_from(load.users).unwrap_or(usize::MAX);
        let declared_duration = load.duration.map(|d| d.0);
        let mut bounded = Vec::new();
        if users < declared_users {
            bounded.push(format!("{users} of {declared_users} users"));
        }
        if let (StopAfter::Duration(d), Some(declared)) = (stop, declared_duration) {
            if d < declared {
                bounded.push(format!(
                    "{} of {}",
                    humantime::format_duration(d),
                    humantime::format_duration(declared)
                ));
            }
        }
        let smoke = (!bounded.is_empty())
            .then(|| format!("smoke load: bounded to {} declared", bounded.join(" and ")));
        let think_time = match &load.think_time {
            Some(t) => Some(parse_think_time(t).ok_or_else(|| {
                format!("invalid think_time `{t}`: expected `100ms` or `100ms..500ms`")
            })?),
            None => None,
        };
        let identities = if load.identities.is_empty() {
            vec![profile
                .spec
                .default_identity
                .clone()
                .ok_or("load.identities is empty and the profile has no default_identity")?]
        } else {
            load.identities.clone()
        };
        let mut variables = Vars::new(run_id, scenario.id.clone());
        for (k, v) in &profile.spec.variables {
            let value = variables
                .interpolate_value(v)
                .map_err(|e| format!("profile variable `{k}`: {e}"))?;
            variables.set(k.clone(), value);
        }
        let transactions = load
            .transactions
            .iter()
            .map(|t| {
                Ok(TransactionPlan {
                    name: t.name.clone(),
                    weight: t.weight.unwrap_or(1) as usize,
                    steps: t
                        .steps
                        .iter()
                        .map(|s| step_plan(s, &profile))
                        .collect::<Result<_, String>>()?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut plan = LoadPlan {
            id: scenario.id.clone(),
            name: sc.name.clone(),
            severity: sc.severity,
            profile,
            run_id: run_id.to_string(),
            users: users_here,
            increase_rate: rate,
            stop,
            think_time,
            smoke,
            throttle,
            identities,
            variables,
            scenario_variables: sc.variables.clone(),
            transactions,
            thresholds: Vec::new(),
            window: load.windows.map(|d| d.0),
            shard: overrides.shard,
            first_user,
        };
        let names = plan.step_names();
        plan.thresholds = validate_thresholds(&load.thresholds, &names)
            .map_err(|e| format!("load.thresholds[{}]: {e}", e.index))?;
        plan.validate()?;
        Ok(plan)
    }

    /// The step names of every transaction (the names thresholds may use).
    pub fn step_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for t in &self.transactions {
            for s in &t.steps {
                if !names.contains(&s.name.as_str()) {
                    names.push(&s.name);
                }
            }
        }
        names
    }

    /// Checks what goose would refuse, with messages in the scenario's terms.
    pub fn validate(&self) -> Result<(), String> {
        if self.users == 0 {
            return Err("load.users must be at least 1".into());
        }
        if !(self.increase_rate.is_finite() && self.increase_rate > 0.0) {
            return Err("load.increase_rate must be a positive number".into());
        }
        if self.transactions.is_empty() {
            return Err("load.transactions must name at least one transaction".into());
        }
        for t in &self.transactions {
            if t.weight == 0 {
                return Err(format!(
                    "transaction `{}`: weight must be at least 1",
                    t.name
                ));
            }
            if t.steps.is_empty() {
                return Err(format!("transaction `{}` has no steps", t.name));
            }
        }
        if self.identities.is_empty() {
            return Err("load.identities is empty".into());
        }
        let known = &self.profile.spec.identities;
        for id in self.identities.iter().chain(
            self.transactions
                .iter()
                .flat_map(|t| t.steps.iter().filter_map(|s| s.identity.as_ref())),
        ) {
            if !known.contains_key(id) {
                return Err(format!(
                    "identity `{id}` is not in target profile `{}`",
                    self.profile.spec.name
                ));
            }
        }
        match self.stop {
            StopAfter::Iterations(0) => return Err("load.iterations must be at least 1".into()),
            StopAfter::Duration(d) if d.is_zero() => {
                return Err("load.duration must be positive".into())
            }
            _ => {}
        }
        if let Some((min, max)) = self.think_time {
            if min > max {
                return Err("load.think_time: the minimum is above the maximum".into());
            }
        }
        Ok(())
    }
}

fn step_plan(step: &Step, profile: &Profile) -> Result<StepPlan, String> {
    let action = if let Some(spec) = &step.request {
        StepAction::Request(Box::new(RequestPlan {
            spec: spec.clone(),
            expect: step.expect.clone(),
            capture: step.capture.clone(),
        }))
    } else if let Some(poll) = &step.poll {
        StepAction::Poll(Box::new(PollPlan {
            poll: poll.clone(),
            capture: step.capture.clone(),
            // The harness's defaults, so a poll means the same in both.
            interval: poll
                .interval
                .map(|d| d.0)
                .unwrap_or(Duration::from_millis(200)),
            timeout: poll
                .timeout
                .map(|d| d.0)
                .unwrap_or_else(|| profile.poll_timeout()),
        }))
    } else {
        return Err(format!(
            "step `{}`: load transactions may only contain `request` and `poll` steps",
            step.name
        ));
    };
    Ok(StepPlan {
        name: step.name.clone(),
        identity: step.identity.clone(),
        delay: step.delay.map(|d| d.0),
        action,
    })
}
