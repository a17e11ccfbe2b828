//! Each property as the reports name and explain it, and its result.

use super::*;

pub(super) struct Property {
    pub(super) name: &'static str,
    pub(super) title: &'static str,
    pub(super) severity: Severity,
    pub(super) requirement: &'static str,
    pub(super) remediation: &'static str,
    pub(super) fails_when: &'static str,
}

pub(super) const NO_SERVER_ERRORS: Property = Property {
    name: "no_server_errors",
    title: "No server error in the whole run",
    severity: Severity::High,
    requirement: "No request of the run, valid or not, is answered with a 5xx unless its step provoked one.",
    remediation: "Find the exchange below in the server's logs: bad input must be a 4xx, and a fault the server can recover from a 503.",
    fails_when: "Any exchange of any scenario got a 5xx its step did not expect.",
};
pub(super) const ERROR_FORMAT: Property = Property {
    name: "error_format",
    title: "Every error in the whole run has the declared format",
    severity: Severity::Moderate,
    requirement: "Every 4xx and 5xx answer of the run carries the declared error content type and a JSON object body.",
    remediation: "Route every error, framework-generated ones included (404, 405, 413, 415), through the problem+json writer.",
    fails_when: "Any 4xx/5xx of the run came with another content type or a body that is not a JSON object.",
};
pub(super) const STATE_HISTORY: Property = Property {
    name: "state_history",
    title: "Every resource's history is legal across all views",
    severity: Severity::High,
    requirement: "Every observation of a resource, through any view and in any scenario, follows the state machine in real-time order (terminal states stay terminal) and its progress never goes down.",
    remediation: "Find the two exchanges below: a view that shows a stale or reverted state, or an update that moved a flow backwards or out of a terminal state.",
    fails_when: "Two observations of one resource, one answered before the other was asked, show an impossible move or progress going down.",
};
pub(super) const ISOLATION: Property = Property {
    name: "isolation",
    title: "No answer to one tenant holds another tenant's resource",
    severity: Severity::Critical,
    requirement: "No successful answer to one scope (tenant, engagement) holds the id of a resource another scope created.",
    remediation: "Scope every query, list, aggregate and view by the caller's tenant, as the exchange below shows one that is not.",
    fails_when: "A 2xx answer to one scope held the id of a resource created by another.",
};

pub(super) const REJECTED_WRITES: Property = Property {
    name: "rejected_writes",
    title: "A refused create leaves no trace",
    severity: Severity::High,
    requirement: "A create answered 4xx or 5xx stores nothing: no later view shows a resource with that request's unique name.",
    remediation: "Validate the whole request before writing anything, and write in one transaction that a refusal rolls back.",
    fails_when: "A view answered after a refused create shows a resource carrying that request's unique name; or, where refusals with 429 were retried and accepted, views show more resources with that name than creates of it that were not refused with 429.",
};

pub(super) const LIVENESS: Property = Property {
    name: "liveness",
    title: "No resource stays in a state longer than the profile allows",
    severity: Severity::High,
    requirement: "Every resource leaves each state that has a max_dwell in the profile's state machine within that time (a created flow is picked up), also right after a burst of creates.",
    remediation: "Find why the resource below was not picked up: a worker that is not running, a lost wake-up, a backlog that does not drain, a claim query that skips it.",
    fails_when: "Two answers, the later sent more than max_dwell after the earlier was received, show a resource in the same state with no write to it in between.",
};
pub(super) const AGGREGATES: Property = Property {
    name: "aggregates",
    title: "A scope's counts move only with its own writes",
    severity: Severity::Critical,
    requirement: "Two identical reads of a declared count (e.g. the size of a tenant's list) by one scope, with no write by that scope in between, show the same count whatever other tenants do.",
    remediation: "Scope every count, total and page by the caller's tenant before limiting: the two reads below differ although only another tenant wrote.",
    fails_when: "A declared count read twice by one scope changed with no write by that scope in between.",
};
pub(super) const DELETES_ARE_FINAL: Property = Property {
    name: "deletes_are_final",
    title: "A deleted resource stays deleted in every view",
    severity: Severity::High,
    requirement: "After a delete answered 2xx, no view answered later shows the resource (other than with the declared deleted status).",
    remediation: "Make the delete take effect before answering, in every state, and keep every view (lists included) from showing deleted resources.",
    fails_when: "A view answered after a delete's 2xx showed the deleted resource.",
};

pub(super) fn result(
    p: &Property,
    checked: String,
    violations: Vec<Violation>,
    history: &[Observation],
) -> ScenarioResult {
    let outcome = if violations.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    let by_seq: HashMap<u64, &Observation> = history.iter().map(|o| (o.seq, o)).collect();
    let total = violations.len();
    let mut steps = vec![StepResult {
        name: checked,
        kind: "property".into(),
        outcome,
        duration_ms: 0,
        summary: (total > 0).then(|| format!("{total} violation(s)")),
        failure: None,
        states_seen: Vec::new(),
        exchanges: Vec::new(),
        children: Vec::new(),
    }];
    for (i, v) in violations.into_iter().take(MAX_LISTED).enumerate() {
        let shown: Vec<String> = v
            .exchanges
            .iter()
            .filter_map(|s| by_seq.get(s))
            .map(|o| {
                format!(
                    "#{} t={:.3}s..{:.3}s {} {} as `{}` → {} ({})",
                    o.seq,
                    o.started_ms / 1000.0,
                    o.ended_ms / 1000.0,
                    o.method,
                    o.path,
                    o.identity,
                    o.status.map_or("no answer".to_string(), |s| s.to_string()),
                    o.scenario
                )
            })
            .collect();
        let message = match &v.resource {
            Some(r) => format!("{}: {}", r, v.message),
            None => v.message.clone(),
        };
        steps.push(StepResult {
            name: format!("violation {} of {total}", i + 1),
            kind: "property".into(),
            outcome: Outcome::Failed,
            duration_ms: 0,
            summary: Some(message.clone()),
            failure: Some(Failure {
                message,
                expected: None,
                actual: Some(shown.join("; then ")),
                response_excerpt: None,
                curl: None,
            }),
            states_seen: Vec::new(),
            exchanges: Vec::new(),
            children: Vec::new(),
        });
    }
    ScenarioResult {
        requirement: Some(p.requirement.to_string()),
        tags: vec!["property".into()],
        remediation: Some(p.remediation.to_string()),
        fails_when: Some(p.fails_when.to_string()),
        ..crate::run::result::generated_result(
            format!("{CATEGORY}/{}", p.name),
            p.title.to_string(),
            "(target profile: properties)",
            CATEGORY,
            p.severity,
            outcome,
            steps,
        )
    }
}
