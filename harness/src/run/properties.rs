//! Properties over the whole history of a run, not one step's answer: checks that hold
//! for every exchange of every scenario, whichever scenario happened to look. Each is a
//! check of category `properties` in the reports; the profile's `properties:` section says
//! where ids, statuses and progress are, which responses are views of a resource, and
//! which identities share a scope.
//!
//! - `no_server_errors`: no 5xx, ever, unless the step provoked it;
//! - `error_format`: every 4xx/5xx carries the declared content type and a JSON object;
//! - `state_history`: every resource, across every view and scenario, moves only as the
//!   state machine allows (terminal states stay terminal) and its progress never goes
//!   down — between observations in real-time order (one answered before the other was
//!   asked), so concurrent reads never count as a contradiction;
//! - `isolation`: no 2xx answer to one scope holds the id of a resource another scope
//!   created;
//! - `rejected_writes`: after a create answered 4xx/5xx, no later view shows a resource
//!   with that request's canary (its unique name).

use std::collections::{BTreeMap, HashMap};

use flowgate_reports::{Failure, Level, Outcome, ScenarioResult, Severity, StepResult};
use serde_json::Value;

use super::history::Observation;
use crate::profile::Profile;
use crate::spec::model::{PropertiesSpec, StateMachine, ViewSpec};

/// The category of the property checks in every report.
pub const CATEGORY: &str = flowgate_reports::PROPERTIES_CATEGORY;
/// Violations listed per property (the count says how many there were).
const MAX_LISTED: usize = 10;

/// One broken property: on which resource, why, and the exchanges (by `seq`) that show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub resource: Option<String>,
    pub message: String,
    pub exchanges: Vec<u64>,
}

/// A resource as one response showed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub progress: Option<f64>,
    pub seq: u64,
    pub started_ms: f64,
    pub ended_ms: f64,
    /// Restarts (e.g. retries) of this resource answered before this request was sent.
    pub epoch: usize,
}

/// Matches `METHOD /a/{id}/b` against a request; `Some(id)` (the `{id}` segment, if the
/// template has one) when it matches.
pub fn request_matches(template: &str, method: &str, route: &str) -> Option<Option<String>> {
    let (t_method, t_path) = template.trim().split_once(' ')?;
    if !t_method.eq_ignore_ascii_case(method) {
        return None;
    }
    let want: Vec<&str> = t_path.trim().trim_end_matches('/').split('/').collect();
    let got: Vec<&str> = route.trim_end_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut id = None;
    for (w, g) in want.iter().zip(&got) {
        if *w == "{id}" {
            id = Some(g.to_string());
        } else if !(w.starts_with('{') && w.ends_with('}')) && w != g {
            return None;
        }
    }
    Some(id)
}

fn query_all<'a>(path: &str, doc: &'a Value) -> Vec<&'a Value> {
    serde_json_path::JsonPath::parse(path)
        .map(|p| p.query(doc).all())
        .unwrap_or_default()
}

fn first_text(path: &str, doc: &Value) -> Option<String> {
    query_all(path, doc).first().and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// Every resource every 2xx view showed, with the epoch it belongs to.
pub fn sightings(
    history: &[Observation],
    views: &[ViewSpec],
    restarts: &[String],
) -> Vec<Sighting> {
    // id → start times of the restarts answered 2xx.
    let mut restarted: HashMap<String, Vec<f64>> = HashMap::new();
    for o in history.iter().filter(|o| o.is_success()) {
        for r in restarts {
            if let Some(Some(id)) = request_matches(r, &o.method, o.route()) {
                restarted.entry(id).or_default().push(o.started_ms);
            }
        }
    }
    let mut out = Vec::new();
    for o in history.iter().filter(|o| o.is_success()) {
        let Some(doc) = &o.response else { continue };
        for v in views {
            if request_matches(&v.request, &o.method, o.route()).is_none() {
                continue;
            }
            let items: Vec<&Value> = match &v.items {
                Some(p) => query_all(p, doc),
                None => vec![doc],
            };
            for item in items {
                let Some(id) = first_text(&v.id, item) else {
                    continue;
                };
                let epoch = restarted
                    .get(&id)
                    .map_or(0, |ts| ts.iter().filter(|t| **t <= o.started_ms).count());
                out.push(Sighting {
                    name: v.name.as_deref().and_then(|p| first_text(p, item)),
                    status: v.status.as_deref().and_then(|p| first_text(p, item)),
                    progress: v
                        .progress
                        .as_deref()
                        .and_then(|p| query_all(p, item).first().and_then(|x| x.as_f64())),
                    id,
                    seq: o.seq,
                    started_ms: o.started_ms,
                    ended_ms: o.ended_ms,
                    epoch,
                });
            }
        }
    }
    out
}

/// Legal moves and monotonic progress per resource and epoch, in real-time order.
pub fn state_history(sightings: &[Sighting], machine: Option<&StateMachine>) -> Vec<Violation> {
    let mut by: BTreeMap<(&str, usize), Vec<&Sighting>> = BTreeMap::new();
    for s in sightings {
        by.entry((s.id.as_str(), s.epoch)).or_default().push(s);
    }
    let mut out = Vec::new();
    for ((id, _), mut list) in by {
        list.sort_by(|a, b| {
            a.started_ms
                .total_cmp(&b.started_ms)
                .then(a.seq.cmp(&b.seq))
        });
        for (i, b) in list.iter().enumerate() {
            // What was known when `b` was asked: the latest answer before it was sent.
            let Some(a) = list[..i]
                .iter()
                .filter(|a| a.ended_ms <= b.started_ms)
                .max_by(|x, y| x.ended_ms.total_cmp(&y.ended_ms))
            else {
                continue;
            };
            if let (Some(m), Some(from), Some(to)) = (machine, &a.status, &b.status) {
                if !m.change_is_legal(from, to) {
                    let why = if m.terminal.contains(from) {
                        format!("terminal state `{from}` was later seen as `{to}`")
                    } else {
                        format!("`{from}` was later seen as `{to}`, which it cannot reach")
                    };
                    out.push(Violation {
                        resource: Some(id.to_string()),
                        message: why,
                        exchanges: vec![a.seq, b.seq],
                    });
                }
            }
            if let (Some(p), Some(q)) = (a.progress, b.progress) {
                if q < p {
                    out.push(Violation {
                        resource: Some(id.to_string()),
                        message: format!("progress went down from {p} to {q}"),
                        exchanges: vec![a.seq, b.seq],
                    });
                }
            }
        }
    }
    out
}

/// After a create answered 4xx/5xx, no view answered later shows a resource with that
/// request's canary.
pub fn rejected_writes(
    history: &[Observation],
    profile: &Profile,
    canary: &str,
    sightings: &[Sighting],
) -> Vec<Violation> {
    let mut out = Vec::new();
    for o in history
        .iter()
        .filter(|o| o.status.is_some_and(|s| s >= 400))
    {
        let is_create = profile.spec.resources.iter().any(|r| {
            r.created_by
                .iter()
                .any(|c| request_matches(c, &o.method, o.route()).is_some())
        });
        // Only a name unique to the run is a canary: one holding a UUID (`{{ uuid }}`),
        // so a foreign target's own flows named `x` never count.
        let Some(name) = o
            .request
            .as_ref()
            .filter(|_| is_create)
            .and_then(|b| first_text(canary, b))
            .filter(|n| holds_uuid(n))
        else {
            continue;
        };
        if let Some(s) = sightings
            .iter()
            .find(|s| s.started_ms >= o.ended_ms && s.name.as_deref() == Some(name.as_str()))
        {
            out.push(Violation {
                resource: Some(s.id.clone()),
                message: format!(
                    "a create refused with {} (name `{name}`) was later shown as a stored resource",
                    o.status.unwrap_or_default()
                ),
                exchanges: vec![o.seq, s.seq],
            });
        }
    }
    out
}

fn holds_uuid(text: &str) -> bool {
    text.as_bytes().windows(36).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

/// No 5xx unless the step that sent the request expected one.
pub fn no_server_errors(history: &[Observation]) -> Vec<Violation> {
    history
        .iter()
        .filter(|o| o.status.is_some_and(|s| s >= 500) && !o.expected_5xx)
        .map(|o| Violation {
            resource: None,
            message: format!(
                "{} {} answered {}",
                o.method,
                o.route(),
                o.status.unwrap_or_default()
            ),
            exchanges: vec![o.seq],
        })
        .collect()
}

/// Every 4xx/5xx with the declared content type and a JSON object body.
pub fn error_format(history: &[Observation], content_type: &str) -> Vec<Violation> {
    let want = content_type.to_ascii_lowercase();
    history
        .iter()
        .filter(|o| o.status.is_some_and(|s| s >= 400))
        .filter_map(|o| {
            let ct = o.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
            let problem = if !ct.contains(&want) {
                Some(format!(
                    "content type `{}`, not `{content_type}`",
                    o.content_type.as_deref().unwrap_or("(none)")
                ))
            } else if !o.response.as_ref().is_some_and(Value::is_object) {
                Some("a body that is not a JSON object".to_string())
            } else {
                None
            }?;
            Some(Violation {
                resource: None,
                message: format!(
                    "{} {} answered {} with {problem}",
                    o.method,
                    o.route(),
                    o.status.unwrap_or_default()
                ),
                exchanges: vec![o.seq],
            })
        })
        .collect()
}

/// Ids of the resources the run created, with the identity that created each.
pub fn created(history: &[Observation], profile: &Profile) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for o in history.iter().filter(|o| o.is_success()) {
        let Some(doc) = &o.response else { continue };
        for r in &profile.spec.resources {
            let made = r
                .created_by
                .iter()
                .any(|c| request_matches(c, &o.method, o.route()).is_some());
            if made {
                if let Some(id) = first_text(&r.id, doc) {
                    out.insert(id.to_ascii_lowercase(), o.identity.clone());
                }
            }
        }
    }
    out
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// No 2xx answer to one scope holds the id of a resource another scope created (an id
/// the request itself sent in its body is an echo, not a leak).
pub fn isolation(
    history: &[Observation],
    created: &HashMap<String, String>,
    scopes: &BTreeMap<String, String>,
) -> Vec<Violation> {
    let scope_of = |identity: &str| -> String {
        scopes
            .get(identity)
            .cloned()
            .unwrap_or_else(|| format!("identity:{identity}"))
    };
    let mut out = Vec::new();
    for o in history.iter().filter(|o| o.is_success()) {
        let Some(doc) = &o.response else { continue };
        let mine = scope_of(&o.identity);
        let mut sent = Vec::new();
        if let Some(body) = &o.request {
            strings(body, &mut sent);
        }
        let mut seen = Vec::new();
        strings(doc, &mut seen);
        for s in seen {
            let key = s.to_ascii_lowercase();
            let Some(creator) = created.get(&key) else {
                continue;
            };
            let theirs = scope_of(creator);
            if theirs != mine && !sent.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                out.push(Violation {
                    resource: Some(s.to_string()),
                    message: format!(
                        "{} {} as `{}` (scope {mine}) answered {} holding a resource created by `{creator}` (scope {theirs})",
                        o.method,
                        o.route(),
                        o.identity,
                        o.status.unwrap_or_default()
                    ),
                    exchanges: vec![o.seq],
                });
                break;
            }
        }
    }
    out
}

struct Property {
    name: &'static str,
    title: &'static str,
    severity: Severity,
    requirement: &'static str,
    remediation: &'static str,
    fails_when: &'static str,
}

const NO_SERVER_ERRORS: Property = Property {
    name: "no_server_errors",
    title: "No server error in the whole run",
    severity: Severity::High,
    requirement: "No request of the run, valid or not, is answered with a 5xx unless its step provoked one.",
    remediation: "Find the exchange below in the server's logs: bad input must be a 4xx, and a fault the server can recover from a 503.",
    fails_when: "Any exchange of any scenario got a 5xx its step did not expect.",
};
const ERROR_FORMAT: Property = Property {
    name: "error_format",
    title: "Every error in the whole run has the declared format",
    severity: Severity::Moderate,
    requirement: "Every 4xx and 5xx answer of the run carries the declared error content type and a JSON object body.",
    remediation: "Route every error, framework-generated ones included (404, 405, 413, 415), through the problem+json writer.",
    fails_when: "Any 4xx/5xx of the run came with another content type or a body that is not a JSON object.",
};
const STATE_HISTORY: Property = Property {
    name: "state_history",
    title: "Every resource's history is legal across all views",
    severity: Severity::High,
    requirement: "Every observation of a resource, through any view and in any scenario, follows the state machine in real-time order (terminal states stay terminal) and its progress never goes down.",
    remediation: "Find the two exchanges below: a view that shows a stale or reverted state, or an update that moved a flow backwards or out of a terminal state.",
    fails_when: "Two observations of one resource, one answered before the other was asked, show an impossible move or progress going down.",
};
const ISOLATION: Property = Property {
    name: "isolation",
    title: "No answer to one tenant holds another tenant's resource",
    severity: Severity::Critical,
    requirement: "No successful answer to one scope (tenant, engagement) holds the id of a resource another scope created.",
    remediation: "Scope every query, list, aggregate and view by the caller's tenant, as the exchange below shows one that is not.",
    fails_when: "A 2xx answer to one scope held the id of a resource created by another.",
};

const REJECTED_WRITES: Property = Property {
    name: "rejected_writes",
    title: "A refused create leaves no trace",
    severity: Severity::High,
    requirement: "A create answered 4xx or 5xx stores nothing: no later view shows a resource with that request's unique name.",
    remediation: "Validate the whole request before writing anything, and write in one transaction that a refusal rolls back.",
    fails_when: "A view answered after a refused create shows a resource carrying that request's unique name.",
};

fn result(
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
        id: format!("{CATEGORY}/{}", p.name),
        name: p.title.to_string(),
        file: "(target profile: properties)".into(),
        category: CATEGORY.into(),
        severity: p.severity,
        level: Level::Must,
        requirement: Some(p.requirement.to_string()),
        tags: vec!["property".into()],
        description: None,
        remediation: Some(p.remediation.to_string()),
        fails_when: Some(p.fails_when.to_string()),
        outcome,
        duration_ms: 0,
        steps,
        measurements: Vec::new(),
        waiver: None,
        cleanup: None,
    }
}

/// Every property the profile declares, over the run's history.
pub(crate) fn check(
    history: &[Observation],
    dropped: u64,
    profile: &Profile,
) -> Vec<ScenarioResult> {
    let Some(spec): Option<&PropertiesSpec> = profile.spec.properties.as_ref() else {
        return Vec::new();
    };
    let kept = if dropped > 0 {
        format!(
            " (the first {} kept; {dropped} more not checked)",
            history.len()
        )
    } else {
        String::new()
    };
    let n = history.len();
    let mut out = vec![result(
        &NO_SERVER_ERRORS,
        format!("{n} exchanges checked{kept}"),
        no_server_errors(history),
        history,
    )];
    if let Some(ct) = &spec.error_content_type {
        let errors = history
            .iter()
            .filter(|o| o.status.is_some_and(|s| s >= 400))
            .count();
        out.push(result(
            &ERROR_FORMAT,
            format!("{errors} error answers of {n} exchanges checked{kept}"),
            error_format(history, ct),
            history,
        ));
    }
    if !spec.views.is_empty() {
        let seen = sightings(history, &spec.views, &spec.restarts);
        let resources = seen
            .iter()
            .map(|s| s.id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len();
        let machine = spec
            .state_machine
            .as_ref()
            .and_then(|m| profile.spec.state_machines.get(m));
        out.push(result(
            &STATE_HISTORY,
            format!(
                "{} observations of {resources} resources checked{kept}",
                seen.len()
            ),
            state_history(&seen, machine),
            history,
        ));
        if let Some(canary) = &spec.canary {
            let refused = history
                .iter()
                .filter(|o| o.status.is_some_and(|s| s >= 400) && o.request.is_some())
                .count();
            out.push(result(
                &REJECTED_WRITES,
                format!(
                    "{refused} refused requests with a body, against {} observations{kept}",
                    seen.len()
                ),
                rejected_writes(history, profile, canary, &seen),
                history,
            ));
        }
    }
    if !profile.spec.resources.is_empty() {
        let made = created(history, profile);
        out.push(result(
            &ISOLATION,
            format!(
                "{} resources created; {n} exchanges checked{kept}",
                made.len()
            ),
            isolation(history, &made, &spec.scopes),
            history,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn machine() -> StateMachine {
        serde_yaml_ng::from_str(
            "terminal: [completed, failed, cancelled]\n\
             transitions:\n\
             \x20 initialized: [running, paused, cancelled]\n\
             \x20 running: [waiting_for_input, paused, completed, failed, cancelled]\n\
             \x20 waiting_for_input: [running, paused, failed, cancelled]\n\
             \x20 paused: [initialized, running, waiting_for_input, cancelled]\n",
        )
        .expect("machine")
    }

    fn sight(id: &str, status: &str, progress: f64, t: f64, seq: u64) -> Sighting {
        Sighting {
            id: id.into(),
            name: None,
            status: Some(status.into()),
            progress: Some(progress),
            seq,
            started_ms: t,
            ended_ms: t + 5.0,
            epoch: 0,
        }
    }

    fn obs(
        seq: u64,
        identity: &str,
        method: &str,
        path: &str,
        status: u16,
        response: Value,
    ) -> Observation {
        Observation {
            seq,
            scenario: "s".into(),
            identity: identity.into(),
            method: method.into(),
            path: path.into(),
            started_ms: seq as f64 * 10.0,
            ended_ms: seq as f64 * 10.0 + 5.0,
            status: Some(status),
            content_type: Some("application/json".into()),
            expected_5xx: false,
            request: None,
            response: Some(response),
        }
    }

    #[test]
    fn templates_match_methods_segments_and_capture_the_id() {
        assert_eq!(
            request_matches("GET /api/v1/flows/{id}", "GET", "/api/v1/flows/abc"),
            Some(Some("abc".into()))
        );
        assert_eq!(
            request_matches(
                "POST /api/v1/flows/{id}/{action}",
                "POST",
                "/api/v1/flows/x/pause"
            ),
            Some(Some("x".into()))
        );
        assert_eq!(
            request_matches("GET /api/v1/flows", "GET", "/api/v1/flows/"),
            Some(None)
        );
        assert_eq!(
            request_matches("GET /api/v1/flows/{id}", "POST", "/api/v1/flows/a"),
            None
        );
        assert_eq!(
            request_matches("GET /api/v1/flows/{id}", "GET", "/api/v1/flows/a/events"),
            None
        );
    }

    #[test]
    fn a_terminal_state_that_moves_on_is_reported_with_both_exchanges() {
        let s = vec![
            sight("f", "running", 50.0, 0.0, 1),
            sight("f", "completed", 100.0, 10.0, 2),
            sight("f", "running", 100.0, 20.0, 3),
        ];
        let v = state_history(&s, Some(&machine()));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].exchanges, vec![2, 3]);
        assert!(v[0].message.contains("terminal state `completed`"));
    }

    #[test]
    fn overlapping_reads_are_not_ordered() {
        // The second read was sent before the first was answered: either order is real.
        let mut a = sight("f", "completed", 100.0, 0.0, 1);
        a.ended_ms = 30.0;
        let b = sight("f", "running", 80.0, 10.0, 2);
        assert!(state_history(&[a, b], Some(&machine())).is_empty());
    }

    #[test]
    fn a_restart_starts_a_new_history() {
        let mut later = sight("f", "running", 50.0, 20.0, 2);
        later.epoch = 1;
        let s = vec![sight("f", "failed", 50.0, 0.0, 1), later];
        assert!(state_history(&s, Some(&machine())).is_empty());
    }

    #[test]
    fn a_refused_create_whose_name_shows_up_later_is_reported() {
        let profile = Profile::parse(
            "name: t\nbase_url: http://127.0.0.1:1\nresources:\n  - { name: flow, created_by: [POST /flows], id: \"$.id\", delete: \"DELETE /flows/{id}\" }\n",
            "t.target.yaml",
            &crate::EnvMap::default(),
        )
        .expect("profile");
        let name = "refused-0d9f6c1e-8a7b-4c2d-9e1f-123456789abc";
        let mut refused = obs(
            1,
            "a",
            "POST",
            "/flows",
            422,
            serde_json::json!({"code": "v"}),
        );
        refused.request = Some(serde_json::json!({"flow_name": name, "typo": 1}));
        let mut shown = sight("f9", "running", 0.0, 100.0, 2);
        shown.name = Some(name.into());
        let mut before = sight("f9", "running", 0.0, 0.0, 3);
        before.name = Some(name.into());
        let v = rejected_writes(&[refused.clone()], &profile, "$.flow_name", &[shown]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].exchanges, vec![1, 2]);
        // Seen only before the refusal: not a trace of it.
        assert!(rejected_writes(&[refused], &profile, "$.flow_name", &[before]).is_empty());
    }

    #[test]
    fn only_names_that_hold_a_uuid_are_canaries() {
        assert!(holds_uuid("refused-0d9f6c1e-8a7b-4c2d-9e1f-123456789abc"));
        assert!(!holds_uuid("x"));
        assert!(!holds_uuid("refused-0d9f6c1e-8a7b-4c2d-9e1f"));
    }

    #[test]
    fn a_5xx_counts_unless_the_step_provoked_it() {
        let mut expected = obs(2, "a", "GET", "/x", 503, Value::Null);
        expected.expected_5xx = true;
        let h = vec![obs(1, "a", "GET", "/x", 500, Value::Null), expected];
        let v = no_server_errors(&h);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].exchanges, vec![1]);
    }

    #[test]
    fn an_error_without_the_declared_content_type_is_reported() {
        let mut bad = obs(1, "a", "GET", "/x", 404, serde_json::json!({"code": "x"}));
        bad.content_type = Some("text/plain".into());
        let mut good = obs(2, "a", "GET", "/y", 404, serde_json::json!({"code": "x"}));
        good.content_type = Some("application/problem+json".into());
        let v = error_format(&[bad, good], "application/problem+json");
        assert_eq!(v.len(), 1);
        assert!(v[0].message.contains("text/plain"));
    }

    #[test]
    fn another_scopes_id_in_a_2xx_is_a_leak_an_echo_is_not() {
        let created: HashMap<String, String> = [("id-of-a".to_string(), "tenant_a".to_string())]
            .into_iter()
            .collect();
        let scopes: BTreeMap<String, String> =
            [("tenant_a", "a"), ("tenant_b", "b"), ("client_1", "a")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let leak = obs(
            1,
            "tenant_b",
            "GET",
            "/api/v1/flows",
            200,
            serde_json::json!({"items": [{"flow_id": "ID-OF-A"}]}),
        );
        let same_scope = obs(
            2,
            "client_1",
            "GET",
            "/api/v1/flows",
            200,
            serde_json::json!({"items": [{"flow_id": "id-of-a"}]}),
        );
        let mut echo = obs(
            3,
            "tenant_b",
            "POST",
            "/x",
            200,
            serde_json::json!({"ref": "id-of-a"}),
        );
        echo.request = Some(serde_json::json!({"ref": "id-of-a"}));
        let refused = obs(
            4,
            "tenant_b",
            "GET",
            "/api/v1/flows/id-of-a",
            404,
            serde_json::json!({"detail": "id-of-a"}),
        );
        let v = isolation(&[leak, same_scope, echo, refused], &created, &scopes);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].exchanges, vec![1]);
    }

    /// A walk through the machine: (status, progress) steps that only move forward.
    fn legal_walk() -> impl Strategy<Value = Vec<(String, f64)>> {
        proptest::collection::vec(0usize..4, 1..30).prop_map(|choices| {
            let m = machine();
            let mut state = "initialized".to_string();
            let mut progress = 0.0;
            let mut out = vec![(state.clone(), progress)];
            for c in choices {
                if m.terminal.contains(&state) {
                    break;
                }
                let next = m.transitions.get(&state).cloned().unwrap_or_default();
                if next.is_empty() {
                    break;
                }
                state = next[c % next.len()].clone();
                progress = f64::min(100.0, progress + (c as f64) * 10.0);
                out.push((state.clone(), progress));
            }
            out
        })
    }

    fn walk_sightings(walk: &[(String, f64)], repeats: usize) -> Vec<Sighting> {
        let mut out = Vec::new();
        let mut t = 0.0;
        for (status, progress) in walk {
            for _ in 0..=repeats {
                out.push(sight("f", status, *progress, t, out.len() as u64 + 1));
                t += 10.0;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn a_legal_history_passes(walk in legal_walk(), repeats in 0usize..3) {
            let s = walk_sightings(&walk, repeats);
            prop_assert!(state_history(&s, Some(&machine())).is_empty());
        }

        #[test]
        fn a_terminal_state_that_changes_is_always_reported(walk in legal_walk(), to in 0usize..4) {
            let m = machine();
            let mut s = walk_sightings(&walk, 0);
            let last = walk.last().map(|(st, _)| st.clone()).unwrap_or_default();
            prop_assume!(m.terminal.contains(&last));
            let other = ["initialized", "running", "paused", "waiting_for_input"][to];
            let t = s.last().map_or(0.0, |x| x.ended_ms) + 1.0;
            let p = walk.last().map_or(0.0, |(_, p)| *p);
            s.push(sight("f", other, p, t, 10_000));
            let v = state_history(&s, Some(&m));
            prop_assert!(v.iter().any(|v| v.exchanges.contains(&10_000)), "{:?}", v);
        }

        #[test]
        fn progress_that_goes_down_is_always_reported(walk in legal_walk(), drop in 0.1f64..50.0) {
            let mut s = walk_sightings(&walk, 0);
            let (status, p) = walk.last().cloned().unwrap_or_default();
            prop_assume!(p > 0.0);
            let t = s.last().map_or(0.0, |x| x.ended_ms) + 1.0;
            s.push(sight("f", &status, (p - drop).max(0.0).min(p - 0.05), t, 20_000));
            let v = state_history(&s, Some(&machine()));
            prop_assert!(v.iter().any(|v| v.message.contains("progress went down")), "{:?}", v);
        }
    }
}
