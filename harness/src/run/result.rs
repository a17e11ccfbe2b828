//! Building the result model: constructors for scenario and step results, and how
//! outcomes combine.

use super::*;

pub(crate) enum Done {
    Scenario(ScenarioResult),
    Load(LoadResult),
}

pub(crate) fn base_result(s: &SuiteScenario) -> ScenarioResult {
    ScenarioResult {
        id: s.id.clone(),
        name: s.scenario.name.clone(),
        file: s.file.clone(),
        category: s.scenario.category.clone(),
        severity: s.scenario.severity,
        level: s.scenario.level,
        requirement: Some(s.scenario.requirement_text().to_string()),
        tags: s.scenario.tags.clone(),
        description: s.scenario.description.clone(),
        remediation: s.scenario.remediation.clone(),
        fails_when: s.scenario.fails_when.clone(),
        outcome: Outcome::Passed,
        duration_ms: 0,
        steps: Vec::new(),
        measurements: Vec::new(),
        waiver: None,
        cleanup: None,
    }
}

/// A result the harness makes itself (a property, an exploration), not from a scenario
/// file: a `must` with no texts; callers add theirs with struct update.
pub(crate) fn generated_result(
    id: String,
    name: String,
    file: &str,
    category: &str,
    severity: flowgate_reports::Severity,
    outcome: Outcome,
    steps: Vec<StepResult>,
) -> ScenarioResult {
    ScenarioResult {
        id,
        name,
        file: file.into(),
        category: category.into(),
        severity,
        level: flowgate_reports::Level::Must,
        requirement: None,
        tags: Vec::new(),
        description: None,
        remediation: None,
        fails_when: None,
        outcome,
        duration_ms: 0,
        steps,
        measurements: Vec::new(),
        waiver: None,
        cleanup: None,
    }
}

pub(crate) fn skipped_result(s: &SuiteScenario, reason: &str) -> ScenarioResult {
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

pub(crate) fn error_result(s: &SuiteScenario, message: &str) -> ScenarioResult {
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

pub(crate) fn step_result(
    name: &str,
    kind: &str,
    outcome: Outcome,
    failure: Option<Failure>,
) -> StepResult {
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

pub(crate) fn simple_failure(message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        expected: None,
        actual: None,
        response_excerpt: None,
        curl: None,
    }
}

/// Outcome of a sequence: the first non-passing one (Error or Failed), else Passed.
pub(crate) fn combine(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
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

pub(crate) fn push_exchange(list: &mut Vec<Exchange>, e: Exchange, total_so_far: usize) {
    if total_so_far < MAX_EXCHANGES / 2 {
        list.push(e);
    } else {
        if list.len() >= MAX_EXCHANGES {
            list.remove(MAX_EXCHANGES / 2);
        }
        list.push(e);
    }
}

/// The first failure of a step or of its children, depth first.
pub(crate) fn first_failure(s: &StepResult) -> Option<&Failure> {
    if s.failure.is_some() {
        return s.failure.as_ref();
    }
    s.children.iter().find_map(first_failure)
}

pub(crate) fn not_run(step: &Step, why: &str) -> StepResult {
    let mut r = step_result(&step.name, step.kind().as_str(), Outcome::Skipped, None);
    r.summary = Some(why.to_string());
    r
}

/// A step that groups others (a setup/teardown block, one `for_each` row, one
/// `parallel` copy): its outcome is given, its summary is `summary`.
pub(crate) fn group_result(
    name: String,
    kind: &str,
    outcome: Outcome,
    summary: Option<String>,
    started: Instant,
    children: Vec<StepResult>,
) -> StepResult {
    StepResult {
        name,
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

/// The summary of the first child that did not pass.
pub(crate) fn first_unpassed_summary(children: &[StepResult]) -> Option<String> {
    children
        .iter()
        .find(|c| c.outcome != Outcome::Passed)
        .and_then(|c| c.summary.clone())
}
