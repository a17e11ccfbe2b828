//! Shrinking a walk that broke a property to a short scenario that still breaks it:
//! delta debugging (ddmin) over the executed steps, each candidate replayed against the
//! target on a fresh history and checked.
//!
//! Two things make a candidate faithful. Dependencies: a step that uses a resource whose
//! create was removed (or never got an id) goes too, so the scenario never names an
//! undefined variable. Time: a removed stretch leaves its wall time behind as a `delay` on
//! the next kept step, so a property that needs time to pass (a flow that must have
//! finished, a state held too long) still sees it pass.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{named_exchanges, scenario_yaml, Executed, Repro, Runner};
use crate::run::properties;

/// Replays at most this many candidates...
const MAX_REPLAYS: usize = 60;
/// ...within this long.
const MAX_SHRINK_TIME: Duration = Duration::from_secs(120);
/// The longest delay a removed stretch leaves behind.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// The scenario steps of the executed steps at `keep` (indexes, ascending). `compress`:
/// removed stretches leave no delay (for a property that needs things to happen before
/// the target gets to them, which the walk's load slowed down).
pub(crate) fn materialize(executed: &[Executed], keep: &[usize], compress: bool) -> Vec<Value> {
    let mut defined: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let mut prev_end = Duration::ZERO;
    for &i in keep {
        let e = &executed[i];
        if e.planned
            .uses
            .iter()
            .any(|u| !defined.contains(&u.as_str()))
        {
            continue;
        }
        let mut step = e.planned.step.clone();
        let own_delay = step
            .get("delay")
            .and_then(Value::as_str)
            .and_then(|d| humantime::parse_duration(d).ok())
            .unwrap_or_default();
        // Before the first step nothing happened: only its own delay counts.
        let gap = if out.is_empty() || compress {
            own_delay
        } else {
            e.started.saturating_sub(prev_end) + own_delay
        };
        if let Some(m) = step.as_object_mut() {
            if gap >= Duration::from_millis(5) {
                let d = gap.min(MAX_DELAY);
                m.insert("delay".into(), json!(format!("{}ms", d.as_millis())));
            } else {
                m.remove("delay");
            }
            match (&e.planned.defines, e.defined) {
                (Some(var), true) => defined.push(var.as_str()),
                (Some(_), false) => {
                    m.remove("capture");
                }
                _ => {}
            }
        }
        prev_end = e.started + e.took;
        out.push(step);
    }
    out
}

/// The index of the step that sent exchange `seq`.
fn sender(executed: &[Executed], seq: u64) -> Option<usize> {
    executed.iter().position(|e| e.seq_after >= seq)
}

/// Where to start: the steps that sent the exchanges the violation names, and every step
/// that creates or acts on a resource they name (`focused`); the same with every step
/// between the first and last of them (`spanning`, for properties about no one resource,
/// like a count that moved between two reads); the walk up to the last named exchange.
fn first_candidates(executed: &[Executed], text: &str) -> Vec<Vec<usize>> {
    let named = named_exchanges(text);
    let senders: Vec<usize> = named.iter().filter_map(|s| sender(executed, *s)).collect();
    let end = senders.iter().max().map_or(executed.len(), |i| i + 1);
    let mut vars: Vec<&str> = Vec::new();
    for &i in &senders {
        let e = &executed[i];
        vars.extend(e.planned.uses.iter().map(String::as_str));
        vars.extend(e.planned.defines.as_deref());
    }
    for e in executed {
        if let (Some(id), Some(var)) = (&e.id, &e.planned.defines) {
            if text.contains(id.as_str()) {
                vars.push(var);
            }
        }
    }
    let touches = |e: &Executed| {
        e.planned
            .defines
            .as_deref()
            .is_some_and(|d| vars.contains(&d))
            || e.planned.uses.iter().any(|u| vars.contains(&u.as_str()))
    };
    let focused: Vec<usize> = (0..end)
        .filter(|i| senders.contains(i) || touches(&executed[*i]))
        .collect();
    let first = senders.iter().min().copied().unwrap_or(0);
    let spanning: Vec<usize> = (0..end)
        .filter(|i| *i >= first || touches(&executed[*i]))
        .collect();
    let mut out = Vec::new();
    for c in [
        focused,
        spanning,
        (0..end).collect(),
        (0..executed.len()).collect(),
    ] {
        if !c.is_empty() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Shrinks `executed` to a scenario that still fails `property_id`; `text` is what the
/// property said (the exchanges and resources it names).
pub(crate) async fn shrink(
    runner: &Runner<'_>,
    executed: &[Executed],
    text: &str,
    property_id: &str,
    seed: u64,
) -> Repro {
    let started = Instant::now();
    let mut current: Vec<usize> = (0..executed.len()).collect();
    let mut replays = 0;
    let budget_left = |replays: usize| replays < MAX_REPLAYS && started.elapsed() < MAX_SHRINK_TIME;

    let breaks = |keep: Vec<usize>, compress: bool| {
        let steps = materialize(executed, &keep, compress);
        async move {
            let observed = runner.replay(&steps).await;
            properties::check(&observed, 0, runner.profile)
                .iter()
                .any(|r| r.id == property_id && r.outcome == flowgate_reports::Outcome::Failed)
        }
    };

    let mut reproduced = false;
    let mut compress = false;
    'first: for candidate in first_candidates(executed, text) {
        // As fast as the target answers first (short replays), then with the walk's own
        // timing (for what needs time to pass).
        for squeeze in [true, false] {
            if !budget_left(replays) {
                break 'first;
            }
            replays += 1;
            if breaks(candidate.clone(), squeeze).await {
                current = candidate;
                reproduced = true;
                compress = squeeze;
                break 'first;
            }
        }
    }
    if reproduced {
        let mut n = 2usize;
        while current.len() >= 2 && budget_left(replays) {
            let chunk = current.len().div_ceil(n);
            let mut removed_one = false;
            for start in (0..current.len()).step_by(chunk.max(1)) {
                if !budget_left(replays) {
                    break;
                }
                let candidate: Vec<usize> = current
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j < start || *j >= start + chunk)
                    .map(|(_, i)| *i)
                    .collect();
                // What the candidate would really run (dependencies dropped too).
                if materialize(executed, &candidate, compress).is_empty() {
                    continue;
                }
                replays += 1;
                if breaks(candidate.clone(), compress).await {
                    current = candidate;
                    n = (n - 1).max(2);
                    removed_one = true;
                    break;
                }
            }
            if !removed_one {
                if n >= current.len() {
                    break;
                }
                n = (n * 2).min(current.len());
            }
        }
    }
    let steps = materialize(executed, &current, compress);
    let property = property_id.trim_start_matches("properties/");
    let header = format!(
        "# `flowgate explore --seed {seed}` broke the property `{property}`.\n\
         # {}\n\
         # Replay it: flowgate run THIS_FILE --target PROFILE (the run fails on `{property_id}`);\n\
         # keep it in a suite as a regression test.\n",
        if reproduced {
            format!(
                "The walk shrunk to {} steps that break it again.",
                steps.len()
            )
        } else {
            "No replay broke it again (a race, or the target changed): the walk's steps, unshrunk."
                .to_string()
        }
    );
    let yaml = scenario_yaml(
        &format!("explore repro: {property} (seed {seed})"),
        &format!(
            "Found by flowgate explore --seed {seed}: these steps break the property `{property}` (checked over the run's history, category `properties`)."
        ),
        &steps,
    );
    Repro {
        yaml: format!("{header}{yaml}"),
        step_names: steps
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect(),
        steps: steps.len(),
        reproduced,
        replays,
    }
}
