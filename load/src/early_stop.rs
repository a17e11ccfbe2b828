//! Stopping a load phase whose thresholds can no longer pass, instead of running its
//! polls to their timeouts: the verdict is already known, and a gate should say so in
//! seconds. Checked by the progress task a few times a second.

use flowgate_harness::spec::threshold::{Metric, Op};
use flowgate_reports::FlowCompletion;

use crate::plan::{LoadPlan, StepAction, StopAfter};
use crate::recorder::Recorder;

/// A completion-rate threshold the phase must meet.
#[derive(Debug, Clone)]
struct CompletionBound {
    expression: String,
    /// A poll step's name, or `None` for every poll together.
    step: Option<String>,
    /// Percent.
    limit: f64,
    strict: bool,
}

/// The rules of one phase.
#[derive(Debug, Clone)]
pub(crate) struct EarlyStop {
    bounds: Vec<CompletionBound>,
    /// The most polls the phase can start, when that is known (a single transaction
    /// run a fixed number of times): then a bound that can no longer be met is certain.
    max_polls_per_step: Option<u64>,
    poll_steps: u64,
}

/// In a phase of unknown size, a bound of 50% or more is judged beyond recovery once
/// this many flows have ended and every one of them failed or timed out.
const HOPELESS_AFTER: u64 = 3;

impl EarlyStop {
    /// The rules for `plan`, or `None` when it has no completion-rate threshold.
    pub(crate) fn for_plan(plan: &LoadPlan) -> Option<EarlyStop> {
        let bounds: Vec<CompletionBound> = plan
            .thresholds
            .iter()
            .filter(|t| t.metric == Metric::FlowCompletionRate)
            .filter_map(|t| {
                let strict = match t.op {
                    Op::Gt => true,
                    Op::Ge => false,
                    _ => return None,
                };
                Some(CompletionBound {
                    expression: t.expression.clone(),
                    step: t.request.clone(),
                    limit: t.limit,
                    strict,
                })
            })
            .collect();
        if bounds.is_empty() {
            return None;
        }
        let max_polls_per_step = match (plan.stop, plan.transactions.as_slice()) {
            (StopAfter::Iterations(n), [only]) => {
                let polls = only
                    .steps
                    .iter()
                    .filter(|s| matches!(s.action, StepAction::Poll(..)))
                    .count();
                (polls == 1).then_some((plan.users * n) as u64)
            }
            _ => None,
        };
        let poll_steps = plan
            .transactions
            .iter()
            .flat_map(|t| &t.steps)
            .filter(|s| matches!(s.action, StepAction::Poll(..)))
            .count() as u64;
        Some(EarlyStop {
            bounds,
            max_polls_per_step,
            poll_steps: poll_steps.max(1),
        })
    }

    /// Why the phase cannot pass any more, if it cannot.
    pub(crate) fn reason(&self, recorder: &Recorder) -> Option<String> {
        let flows = recorder.flows();
        for b in &self.bounds {
            let f = match &b.step {
                Some(name) => flows
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, f)| f.clone())
                    .unwrap_or_else(empty),
                None => flows.iter().fold(empty(), |mut acc, (_, f)| {
                    acc.created += f.created;
                    acc.completed += f.completed;
                    acc.failed += f.failed;
                    acc.timed_out += f.timed_out;
                    acc
                }),
            };
            let lost = f.failed + f.timed_out;
            if lost == 0 {
                continue;
            }
            let max = self.max_polls_per_step.map(|m| match b.step {
                Some(_) => m,
                None => m * self.poll_steps,
            });
            if let Some(max) = max.filter(|m| *m > 0) {
                let best = (max - lost.min(max)) as f64 * 100.0 / max as f64;
                let fails = if b.strict {
                    best <= b.limit
                } else {
                    best < b.limit
                };
                if fails {
                    return Some(format!(
                        "`{}` can no longer pass: {lost} of at most {max} flows already failed or timed out (best possible {best:.1}%)",
                        b.expression
                    ));
                }
            } else if f.completed == 0 && lost >= HOPELESS_AFTER && b.limit >= 50.0 {
                return Some(format!(
                    "`{}` beyond recovery: the first {lost} flows all failed or timed out and none completed",
                    b.expression
                ));
            }
        }
        None
    }
}

fn empty() -> FlowCompletion {
    FlowCompletion {
        created: 0,
        completed: 0,
        failed: 0,
        timed_out: 0,
    }
}
