//! The harness's [`LoadRunner`]: how `flowgate run` and `flowgate validate` hand a load
//! scenario to goose, and the one-call entry point `flowgate load` uses.

use std::sync::Arc;

use flowgate_harness::{LoadContext, LoadRunner, Profile, SuiteScenario};
use flowgate_reports::{LoadResult, Outcome};
use futures::future::BoxFuture;

use crate::plan::{LoadPlan, Overrides};
use crate::{run_load, LoadOptions};

/// Runs load scenarios on goose, for the harness's runner.
#[derive(Debug, Clone, Default)]
pub struct GooseLoadRunner {
    pub options: LoadOptions,
    /// Applied to every load scenario (e.g. a short bounded run in `flowgate validate`).
    pub overrides: Overrides,
}

impl LoadRunner for GooseLoadRunner {
    fn run_load<'a>(
        &'a self,
        scenario: &'a SuiteScenario,
        profile: &'a Profile,
        ctx: LoadContext,
    ) -> BoxFuture<'a, LoadResult> {
        Box::pin(async move {
            run_scenario(
                scenario,
                profile,
                &ctx.run_id,
                &self.overrides,
                &self.options,
            )
            .await
        })
    }
}

/// Runs one load scenario against a profile. Whatever happens, the answer is a
/// [`LoadResult`]: a phase that could not start is an `Error` outcome whose note says why.
pub async fn run_scenario(
    scenario: &SuiteScenario,
    profile: &Profile,
    run_id: &str,
    overrides: &Overrides,
    options: &LoadOptions,
) -> LoadResult {
    let plan = match LoadPlan::from_scenario(scenario, Arc::new(profile.clone()), run_id, overrides)
    {
        Ok(plan) => plan,
        Err(message) => return error_result(scenario, &message),
    };
    let mut result = match run_load(plan, options.clone()).await {
        Ok(result) => result,
        Err(e) => error_result(scenario, &e.to_string()),
    };
    result.level = scenario.scenario.level;
    result.remediation = scenario.scenario.remediation.clone();
    result.fails_when = scenario.scenario.fails_when.clone();
    result
}

/// The result of a phase that could not run.
pub fn error_result(scenario: &SuiteScenario, message: &str) -> LoadResult {
    let sc = &scenario.scenario;
    LoadResult {
        id: scenario.id.clone(),
        name: sc.name.clone(),
        severity: sc.severity,
        level: sc.level,
        outcome: Outcome::Error,
        users: sc.load.as_ref().map(|l| l.users).unwrap_or(0),
        duration_ms: 0,
        requests: Vec::new(),
        thresholds: Vec::new(),
        timeseries: Vec::new(),
        flows: None,
        notes: vec![format!("the load phase could not run: {message}")],
        smoke: None,
        remediation: sc.remediation.clone(),
        fails_when: sc.fails_when.clone(),
        shard: None,
    }
}
