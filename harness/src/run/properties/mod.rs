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
//!   with that request's canary (its unique name), unless a create with that canary was
//!   accepted; then, if some were refused with 429, no more resources with that canary
//!   than creates of it answered otherwise;
//! - `deletes_are_final`: after a delete answered 2xx (not 202), no later view shows the
//!   resource;
//! - `liveness`: no resource stays in a state longer than the state machine's `max_dwell`
//!   (`liveness.rs`);
//! - `aggregates`: two reads of a declared count by one scope, with no write of that scope
//!   between them, show the same count, whatever other scopes wrote.

use std::collections::{BTreeMap, HashMap, HashSet};

use flowgate_reports::{Failure, Outcome, ScenarioResult, Severity, StepResult};
use serde_json::Value;

use super::history::Observation;

mod catalogue;
mod liveness;
mod rejected_writes;
mod scopes;

use crate::profile::Profile;
use crate::spec::model::{AggregateSpec, PropertiesSpec, ResourceSpec, StateMachine, ViewSpec};
use catalogue::*;
pub use liveness::liveness;
pub use rejected_writes::rejected_writes;
pub(crate) use scopes::scopes_of;

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

/// A resource the run created: who created it, in which scopes, and when (answered).
#[derive(Debug, Clone, PartialEq)]
pub struct Creation {
    pub identity: String,
    pub scopes: Vec<String>,
    pub seq: u64,
    pub ended_ms: f64,
    /// The create's answer.
    pub response: Value,
}

/// Whether `o` is one of `resource`'s `created_by` requests.
fn creates(resource: &ResourceSpec, o: &Observation) -> bool {
    resource
        .created_by
        .iter()
        .any(|c| request_matches(c, &o.method, o.route()).is_some())
}

/// Whether `o` is a create request of any resource of the profile.
fn is_create(o: &Observation, profile: &Profile) -> bool {
    profile.spec.resources.iter().any(|r| creates(r, o))
}

/// The resources the run created (ids lowercased), from the 2xx answers to the
/// profile's `created_by` requests.
pub fn created(history: &[Observation], profile: &Profile) -> HashMap<String, Creation> {
    let mut out = HashMap::new();
    for o in history.iter().filter(|o| o.is_success()) {
        let Some(doc) = &o.response else { continue };
        for r in &profile.spec.resources {
            if creates(r, o) {
                if let Some(id) = first_text(&r.id, doc) {
                    out.insert(
                        id.to_ascii_lowercase(),
                        Creation {
                            identity: o.identity.clone(),
                            scopes: o.scopes.clone(),
                            seq: o.seq,
                            ended_ms: o.ended_ms,
                            response: doc.clone(),
                        },
                    );
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

fn shares_a_scope(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| b.contains(x))
}

/// No 2xx answer to one scope holds the id of a resource another scope created (an id
/// the request itself sent in its body is an echo, not a leak).
pub fn isolation(history: &[Observation], created: &HashMap<String, Creation>) -> Vec<Violation> {
    let mut out = Vec::new();
    for o in history.iter().filter(|o| o.is_success()) {
        let Some(doc) = &o.response else { continue };
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
            if !shares_a_scope(&creator.scopes, &o.scopes)
                && !sent.iter().any(|x| x.eq_ignore_ascii_case(s))
            {
                out.push(Violation {
                    resource: Some(s.to_string()),
                    message: format!(
                        "{} {} as `{}` (scope {}) answered {} holding a resource created by `{}` (scope {})",
                        o.method,
                        o.route(),
                        o.identity,
                        scope_list(&o.scopes),
                        o.status.unwrap_or_default(),
                        creator.identity,
                        scope_list(&creator.scopes),
                    ),
                    exchanges: vec![creator.seq, o.seq],
                });
                break;
            }
        }
    }
    out
}

fn scope_list(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "none".to_string()
    } else {
        scopes.join(" or ")
    }
}

/// Whether a request may have written into one of `scopes`: any request that is not a
/// read, answered or not, by an identity sharing a scope.
fn writes_into(o: &Observation, scopes: &[String]) -> bool {
    !matches!(o.method.as_str(), "GET" | "HEAD" | "OPTIONS") && shares_a_scope(&o.scopes, scopes)
}

/// Differential aggregates: two identical reads of a declared count by one scope, with no
/// write into that scope between the first being sent and the second answered, show the
/// same count — whatever the other scopes wrote meanwhile.
pub fn aggregates(history: &[Observation], specs: &[AggregateSpec]) -> Vec<Violation> {
    // (aggregate, scopes, path with query) → readings (seq, started, ended, count).
    type Key = (usize, Vec<String>, String);
    let mut readings: BTreeMap<Key, Vec<(u64, f64, f64, f64)>> = BTreeMap::new();
    for o in history.iter().filter(|o| o.is_success()) {
        let Some(doc) = &o.response else { continue };
        for (i, a) in specs.iter().enumerate() {
            if request_matches(&a.request, &o.method, o.route()).is_none() {
                continue;
            }
            let query = o.path.split_once('?').map_or("", |(_, q)| q);
            let filtered = query.split('&').any(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                a.unless_query.iter().any(|u| u == name)
            });
            if filtered {
                continue;
            }
            let found = query_all(&a.count, doc);
            let count = match found.as_slice() {
                [one] if one.is_number() => one.as_f64().unwrap_or_default(),
                many => many.len() as f64,
            };
            readings
                .entry((i, o.scopes.clone(), o.path.clone()))
                .or_default()
                .push((o.seq, o.started_ms, o.ended_ms, count));
        }
    }
    let writes: Vec<&Observation> = history
        .iter()
        .filter(|o| !matches!(o.method.as_str(), "GET" | "HEAD" | "OPTIONS"))
        .collect();
    let mut out = Vec::new();
    for ((_, scopes, path), mut list) in readings {
        if scopes.is_empty() {
            continue;
        }
        list.sort_by(|a, b| a.1.total_cmp(&b.1));
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            // Only readings in real-time order, one answered before the other was sent.
            if a.2 > b.1 || a.3 == b.3 {
                continue;
            }
            let written = writes
                .iter()
                .any(|w| writes_into(w, &scopes) && w.started_ms <= b.2 && w.ended_ms >= a.1);
            if !written {
                out.push(Violation {
                    resource: None,
                    message: format!(
                        "GET {path} as scope {} counted {} then {}, with no write by that scope in between",
                        scope_list(&scopes),
                        a.3,
                        b.3
                    ),
                    exchanges: vec![a.0, b.0],
                });
            }
        }
    }
    out
}

/// After a delete answered 2xx, no view answered later shows the resource (unless with
/// the declared `deleted_status`).
pub fn deletes_are_final(
    history: &[Observation],
    profile: &Profile,
    sightings: &[Sighting],
    deleted_status: Option<&str>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    // 202 Accepted says the delete will happen, not that it has: a view may still show
    // the resource while the target works on it.
    for o in history
        .iter()
        .filter(|o| o.is_success() && o.status != Some(202))
    {
        let id = profile
            .spec
            .resources
            .iter()
            .find_map(|r| request_matches(&r.delete, &o.method, o.route()).flatten());
        let Some(id) = id else { continue };
        let later = sightings.iter().find(|s| {
            s.id.eq_ignore_ascii_case(&id)
                && s.started_ms >= o.ended_ms
                && (deleted_status.is_none() || s.status.as_deref() != deleted_status)
        });
        if let Some(s) = later {
            out.push(Violation {
                resource: Some(id.clone()),
                message: format!(
                    "deleted ({} {} answered {}), then shown again{}",
                    o.method,
                    o.route(),
                    o.status.unwrap_or_default(),
                    s.status
                        .as_deref()
                        .map(|st| format!(" as `{st}`"))
                        .unwrap_or_default()
                ),
                exchanges: vec![o.seq, s.seq],
            });
        }
    }
    out
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
    // Every creation of the run, once (liveness and isolation read it).
    let made = created(history, profile);
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
        if !profile.spec.resources.is_empty() {
            let deletes = history
                .iter()
                .filter(|o| o.is_success() && o.status != Some(202) && o.method == "DELETE")
                .count();
            out.push(result(
                &DELETES_ARE_FINAL,
                format!(
                    "{deletes} deletes answered 2xx (202 not counted), against {} observations{kept}",
                    seen.len()
                ),
                deletes_are_final(history, profile, &seen, spec.deleted_status.as_deref()),
                history,
            ));
        }
        if let Some(m) = machine.filter(|m| !m.max_dwell.is_empty()) {
            let (violations, tracked) = liveness(
                history,
                &seen,
                &made,
                m,
                spec.views.first().and_then(|v| v.status.as_deref()),
            );
            let limits = m
                .max_dwell
                .iter()
                .map(|(st, d)| format!("{st} ≤ {} s", d.0.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ");
            let stuck = if violations.is_empty() {
                String::new()
            } else {
                format!("; {} of {tracked} stayed too long", violations.len())
            };
            out.push(result(
                &LIVENESS,
                format!("{tracked} resources checked against {limits}{stuck}{kept}"),
                violations,
                history,
            ));
        }
    }
    if !spec.aggregates.is_empty() {
        let reads = history
            .iter()
            .filter(|o| {
                spec.aggregates
                    .iter()
                    .any(|a| request_matches(&a.request, &o.method, o.route()).is_some())
            })
            .count();
        out.push(result(
            &AGGREGATES,
            format!("{reads} reads of declared counts checked{kept}"),
            aggregates(history, &spec.aggregates),
            history,
        ));
    }
    if !profile.spec.resources.is_empty() {
        out.push(result(
            &ISOLATION,
            format!(
                "{} resources created; {n} exchanges checked{kept}",
                made.len()
            ),
            isolation(history, &made),
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
            scopes: vec![match identity {
                "client_1" => "a".to_string(),
                other => other.trim_start_matches("tenant_").to_string(),
            }],
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
        assert!(rejected_writes(&[refused.clone()], &profile, "$.flow_name", &[before]).is_empty());
        // Refused (429), then the same body accepted: the stored flow is the retry's.
        let mut retried = obs(
            3,
            "a",
            "POST",
            "/flows",
            201,
            serde_json::json!({"id": "f9"}),
        );
        retried.request = refused.request.clone();
        let shown_later = {
            let mut s = sight("f9", "running", 0.0, 100.0, 4);
            s.name = Some(name.into());
            s
        };
        assert!(rejected_writes(
            &[refused.clone(), retried.clone()],
            &profile,
            "$.flow_name",
            std::slice::from_ref(&shown_later)
        )
        .is_empty());
        // A 429 then the retry accepted, but two resources carry the name: the refused
        // request stored one too.
        let mut throttled = refused.clone();
        throttled.status = Some(429);
        let mut second = shown_later.clone();
        second.id = "f10".into();
        second.seq = 5;
        let v = rejected_writes(
            &[throttled.clone(), retried.clone()],
            &profile,
            "$.flow_name",
            &[shown_later.clone(), second.clone()],
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].exchanges, vec![1, 4, 5]);
        // The same resource seen twice is one resource.
        let mut again = shown_later.clone();
        again.id = "F9".into();
        assert!(rejected_writes(
            &[throttled.clone(), retried.clone()],
            &profile,
            "$.flow_name",
            &[shown_later.clone(), again]
        )
        .is_empty());
        // A create with that name that got no answer may have stored the second one.
        let mut unanswered = retried.clone();
        unanswered.seq = 6;
        unanswered.status = None;
        assert!(rejected_writes(
            &[throttled, retried, unanswered],
            &profile,
            "$.flow_name",
            &[shown_later, second]
        )
        .is_empty());
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
        let created: HashMap<String, Creation> = [(
            "id-of-a".to_string(),
            Creation {
                identity: "tenant_a".into(),
                scopes: vec!["a".into()],
                seq: 0,
                ended_ms: 0.0,
                response: Value::Null,
            },
        )]
        .into_iter()
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
        let v = isolation(&[leak, same_scope, echo, refused], &created);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].exchanges, vec![0, 1]);
    }

    fn with_dwell() -> StateMachine {
        let mut m = machine();
        m.max_dwell.insert(
            "initialized".into(),
            crate::spec::model::Dur(std::time::Duration::from_secs(5)),
        );
        m
    }

    fn creation(id: &str, status: &str, ended_ms: f64) -> HashMap<String, Creation> {
        [(
            id.to_string(),
            Creation {
                identity: "tenant_a".into(),
                scopes: vec!["a".into()],
                seq: 100,
                ended_ms,
                response: serde_json::json!({ "status": status }),
            },
        )]
        .into_iter()
        .collect()
    }

    fn write_at(seq: u64, identity: &str, method: &str, path: &str, t: f64) -> Observation {
        let mut o = obs(seq, identity, method, path, 200, Value::Null);
        o.started_ms = t;
        o.ended_ms = t + 5.0;
        o
    }

    #[test]
    fn a_resource_left_in_its_first_state_past_max_dwell_is_reported() {
        let made = creation("f", "initialized", 0.0);
        let late = sight("f", "initialized", 0.0, 6_000.0, 2);
        let (v, tracked) = liveness(
            &[],
            std::slice::from_ref(&late),
            &made,
            &with_dwell(),
            Some("$.status"),
        );
        assert_eq!((v.len(), tracked), (1, 1), "{v:?}");
        assert_eq!(v[0].exchanges, vec![100, 2]);
        assert!(v[0].message.contains("still `initialized` 6.0 s"), "{v:?}");
        // Seen in time, or seen moving on in between, or touched by a write: no stay.
        let early = sight("f", "initialized", 0.0, 4_000.0, 2);
        assert!(
            liveness(&[], &[early], &made, &with_dwell(), Some("$.status"))
                .0
                .is_empty()
        );
        let moved = sight("f", "running", 0.0, 3_000.0, 3);
        assert!(liveness(
            &[],
            &[moved, late.clone()],
            &made,
            &with_dwell(),
            Some("$.status")
        )
        .0
        .is_empty());
        let pause = write_at(4, "tenant_a", "POST", "/api/v1/flows/f/pause", 2_000.0);
        assert!(
            liveness(&[pause], &[late], &made, &with_dwell(), Some("$.status"))
                .0
                .is_empty()
        );
    }

    fn list_read(seq: u64, identity: &str, t: f64, count: usize, query: &str) -> Observation {
        let items: Vec<Value> = (0..count)
            .map(|i| serde_json::json!({ "flow_id": i }))
            .collect();
        let mut o = obs(
            seq,
            identity,
            "GET",
            &format!("/api/v1/flows{query}"),
            200,
            serde_json::json!({ "items": items }),
        );
        o.started_ms = t;
        o.ended_ms = t + 5.0;
        o
    }

    fn list_count() -> Vec<AggregateSpec> {
        vec![AggregateSpec {
            request: "GET /api/v1/flows".into(),
            count: "$.items[*]".into(),
            unless_query: vec!["status".into()],
        }]
    }

    #[test]
    fn a_count_that_moves_while_only_another_scope_writes_is_reported() {
        let h = vec![
            list_read(1, "tenant_a", 0.0, 3, "?limit=5"),
            write_at(2, "tenant_b", "POST", "/api/v1/flows", 10.0),
            list_read(3, "tenant_a", 20.0, 2, "?limit=5"),
        ];
        let v = aggregates(&h, &list_count());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].exchanges, vec![1, 3]);
        // Its own write explains it; another query is another count; a status filter
        // moves with the engine.
        let mut own = h.clone();
        own[1] = write_at(2, "tenant_a", "DELETE", "/api/v1/flows/x", 10.0);
        assert!(aggregates(&own, &list_count()).is_empty());
        let mut other_query = h.clone();
        other_query[2] = list_read(3, "tenant_a", 20.0, 2, "?limit=1");
        assert!(aggregates(&other_query, &list_count()).is_empty());
        let filtered = vec![
            list_read(1, "tenant_a", 0.0, 3, "?status=running"),
            list_read(3, "tenant_a", 20.0, 2, "?status=running"),
        ];
        assert!(aggregates(&filtered, &list_count()).is_empty());
    }

    #[test]
    fn a_deleted_resource_shown_later_is_reported() {
        let profile = Profile::parse(
            "name: t\nbase_url: http://127.0.0.1:1\nresources:\n  - { name: flow, created_by: [POST /flows], id: \"$.id\", delete: \"DELETE /flows/{id}\" }\n",
            "t.target.yaml",
            &crate::EnvMap::default(),
        )
        .expect("profile");
        let mut delete = obs(1, "a", "DELETE", "/flows/f", 204, Value::Null);
        delete.ended_ms = 15.0;
        let after = sight("f", "paused", 0.0, 100.0, 2);
        let before = sight("f", "paused", 0.0, 0.0, 3);
        let v = deletes_are_final(
            &[delete.clone()],
            &profile,
            &[before.clone(), after.clone()],
            None,
        );
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].exchanges, vec![1, 2]);
        assert!(deletes_are_final(&[delete.clone()], &profile, &[before], None).is_empty());
        let mut accepted = delete.clone();
        accepted.status = Some(202);
        assert!(
            deletes_are_final(&[accepted], &profile, std::slice::from_ref(&after), None).is_empty(),
            "a 202 delete is not yet done"
        );
        let mut shown_deleted = after;
        shown_deleted.status = Some("deleted".into());
        assert!(
            deletes_are_final(&[delete], &profile, &[shown_deleted], Some("deleted")).is_empty()
        );
    }

    #[test]
    fn changed_headers_act_in_every_scope_of_their_credential() {
        let profile = Profile::parse(
            "name: t\nbase_url: http://127.0.0.1:1\nidentities:\n\
             \x20 a1: { headers: { Authorization: key-a, X-Engagement-ID: e1 } }\n\
             \x20 a2: { headers: { Authorization: key-a, X-Engagement-ID: e2 } }\n\
             \x20 b: { headers: { Authorization: key-b, X-Engagement-ID: e3 } }\n\
             properties:\n  credentials: [Authorization]\n  scopes: { a1: a, a2: a-second, b: b }\n",
            "t.target.yaml",
            &crate::EnvMap::default(),
        )
        .expect("profile");
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let scopes =
            |over: bool, headers: &[(&str, &str)]| scopes_of(&profile, "a1", over, &h(headers));
        assert_eq!(scopes(false, &[("Authorization", "key-a")]), ["a"]);
        // Tenant header removed or another's: whatever key A may see.
        assert_eq!(
            scopes(true, &[("Authorization", "key-a")]),
            ["a", "a-second"]
        );
        assert_eq!(
            scopes(
                true,
                &[("Authorization", "key-a"), ("X-Engagement-ID", "e3")]
            ),
            ["a", "a-second"]
        );
        // Exactly another identity's headers: that identity.
        assert_eq!(
            scopes(
                true,
                &[("Authorization", "key-a"), ("X-Engagement-ID", "e2")]
            ),
            ["a-second"]
        );
        // No key, or a key nobody owns: no scope at all.
        assert!(scopes(true, &[("X-Engagement-ID", "e1")]).is_empty());
        assert!(scopes(
            true,
            &[("Authorization", "bogus"), ("X-Engagement-ID", "e1")]
        )
        .is_empty());
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
        fn counts_that_follow_their_own_writes_pass(events in proptest::collection::vec((0u8..3, any::<bool>()), 1..40)) {
            // 0: a read by a, 1: a create by a, 2: a create by b. The count a reads is
            // what a created; b's writes never show.
            let mut h = Vec::new();
            let mut own = 0usize;
            for (i, (kind, _)) in events.iter().enumerate() {
                let t = i as f64 * 10.0;
                let seq = i as u64 + 1;
                match kind {
                    0 => h.push(list_read(seq, "tenant_a", t, own, "?limit=100")),
                    1 => { own += 1; h.push(write_at(seq, "tenant_a", "POST", "/api/v1/flows", t)); }
                    _ => h.push(write_at(seq, "tenant_b", "POST", "/api/v1/flows", t)),
                }
            }
            prop_assert!(aggregates(&h, &list_count()).is_empty());
        }

        #[test]
        fn a_count_moved_by_another_scope_is_always_reported(before in 0usize..50, change in 1usize..5, down in any::<bool>(), others in 0usize..4) {
            let after = if down { before.saturating_sub(change) } else { before + change };
            prop_assume!(after != before);
            let mut h = vec![list_read(1, "tenant_a", 0.0, before, "")];
            for k in 0..others {
                h.push(write_at(2 + k as u64, "tenant_b", "POST", "/api/v1/flows", 10.0 + k as f64));
            }
            h.push(list_read(100, "tenant_a", 100.0, after, ""));
            let v = aggregates(&h, &list_count());
            prop_assert_eq!(v.len(), 1);
            prop_assert_eq!(&v[0].exchanges, &vec![1, 100]);
        }

        #[test]
        fn liveness_holds_while_looks_are_closer_than_max_dwell(gaps in proptest::collection::vec(0.0f64..4_900.0, 1..10)) {
            // A flow seen `initialized` again and again, each look within 5 s of the
            // previous one, then `running`: only a stay longer than 5 s in all counts.
            let made = creation("f", "initialized", 0.0);
            let mut t = 0.0;
            let mut looks = Vec::new();
            for (i, g) in gaps.iter().enumerate() {
                t += g;
                looks.push(sight("f", "initialized", 0.0, t, i as u64 + 1));
            }
            let (v, _) = liveness(&[], &looks, &made, &with_dwell(), Some("$.status"));
            let stayed = looks.iter().map(|s| s.started_ms).fold(0.0, f64::max) - 0.0;
            prop_assert_eq!(v.is_empty(), stayed <= 5_000.0, "{:?}", v);
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
