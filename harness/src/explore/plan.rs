//! The walk itself, as data: a pure function of the profile's `explore:` section and a
//! seed, so that the same seed always gives the same sequence of steps. Each step is a
//! scenario step (what `flowgate run` executes), so a shrunk walk is a scenario as it is.
//!
//! Resources are named by the variable their create captures (`f3`), never by id: the
//! sequence does not depend on what the target answers.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::profile::{parse_operation, Profile};
use crate::spec::model::{ExploreSpec, OperationSpec};

/// One step of the walk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    /// The scenario step (`name`, `as`, `delay`, `request` or `parallel`, `capture`).
    pub(crate) step: Value,
    /// The variable its create captures, if it creates.
    pub(crate) defines: Option<String>,
    /// Variables it reads.
    pub(crate) uses: Vec<String>,
}

/// A header change that turns a declared identity into a derived one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Derivation {
    pub(crate) label: String,
    /// Header → new value (`None`: removed).
    pub(crate) headers: BTreeMap<String, Option<String>>,
}

/// Value of a credential no account owns.
const CORRUPT_CREDENTIAL: &str = "Bearer flowgate-explore-corrupted-credential";
/// Value of a tenant header that is not an id at all.
const MALFORMED_HEADER: &str = "not-a-valid-id";
/// How many steps back a resource must have been created to be "old" (likely finished).
const OLD_AFTER_STEPS: usize = 30;

/// The identities the walk acts as: `explore.identities`, else those with a scope.
pub(crate) fn walkers(profile: &Profile, spec: &ExploreSpec) -> Vec<String> {
    if !spec.identities.is_empty() {
        return spec.identities.clone();
    }
    profile
        .spec
        .properties
        .as_ref()
        .map(|p| p.scopes.keys().cloned().collect())
        .unwrap_or_default()
}

/// The derived identities of `identity`: each tenant header removed, malformed or set to
/// another walker's value, each credential removed or corrupted. A value that a profile
/// variable holds is written as that variable, so a repro carries no literal ids.
pub(crate) fn derivations(profile: &Profile, identity: &str, others: &[String]) -> Vec<Derivation> {
    let Some(ident) = profile.spec.identities.get(identity) else {
        return Vec::new();
    };
    let credentials: Vec<String> = profile
        .spec
        .properties
        .as_ref()
        .map(|p| p.credentials.clone())
        .unwrap_or_default();
    let is_credential = |h: &str| credentials.iter().any(|c| c.eq_ignore_ascii_case(h));
    let as_variable = |value: &str| -> String {
        profile
            .spec
            .variables
            .iter()
            .find(|(_, v)| v.as_str() == Some(value))
            .map(|(k, _)| format!("{{{{ {k} }}}}"))
            .unwrap_or_else(|| value.to_string())
    };
    let one = |label: String, h: &str, v: Option<String>| Derivation {
        label,
        headers: [(h.to_string(), v)].into_iter().collect(),
    };
    let mut out = Vec::new();
    for (h, value) in &ident.headers {
        if is_credential(h) {
            out.push(one(format!("{h} removed"), h, None));
            out.push(one(
                format!("{h} corrupted"),
                h,
                Some(CORRUPT_CREDENTIAL.to_string()),
            ));
            continue;
        }
        out.push(one(format!("{h} removed"), h, None));
        out.push(one(
            format!("{h} malformed"),
            h,
            Some(MALFORMED_HEADER.to_string()),
        ));
        for other in others.iter().filter(|o| o.as_str() != identity) {
            let theirs = profile
                .spec
                .identities
                .get(other)
                .and_then(|i| i.headers.get(h));
            if let Some(v) = theirs.filter(|v| *v != value) {
                out.push(one(format!("{h} of {other}"), h, Some(as_variable(v))));
            }
        }
    }
    out
}

/// A resource the walk created so far.
struct Known {
    var: String,
    creator: String,
    at: usize,
    /// The last step that acted on it.
    touched: usize,
}

enum Action<'a> {
    Op(&'a OperationSpec),
    Burst(&'a OperationSpec),
    /// A re-read of an old resource, after a pause.
    Reread,
    /// A story on one new resource: its create, two to four writes to it in a row (pause
    /// then delete, cancel then resume…), and a read of it.
    Story(&'a OperationSpec),
    /// A read of a count (a list) as one scope, a create by another, the same read again:
    /// the count must not move (differential aggregates).
    Differential(&'a OperationSpec),
}

/// The walk of one walker: `steps` steps, from `seed`. `prefix` names its variables.
pub(crate) fn plan(
    profile: &Profile,
    spec: &ExploreSpec,
    seed: u64,
    prefix: &str,
    steps: usize,
) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let walkers = walkers(profile, spec);
    if walkers.is_empty() || spec.operations.is_empty() {
        return Vec::new();
    }
    let derived: BTreeMap<&str, Vec<Derivation>> = walkers
        .iter()
        .map(|w| (w.as_str(), derivations(profile, w, &walkers)))
        .collect();
    let creates: Vec<&OperationSpec> = spec
        .operations
        .iter()
        .filter(|o| o.creates.is_some())
        .collect();
    let reread = reread_operation(spec);
    let max_burst = spec.max_burst.unwrap_or(8);
    let total_weight: f64 = spec.operations.iter().map(weight).sum();

    let mut actions: Vec<(Action, f64)> = spec
        .operations
        .iter()
        .map(|o| (Action::Op(o), weight(o)))
        .collect();
    if max_burst >= 2 {
        for c in &creates {
            actions.push((Action::Burst(c), total_weight * 0.03 / creates.len() as f64));
        }
    }
    if reread.is_some() {
        actions.push((Action::Reread, total_weight * 0.08));
    }
    let writes_to_one: Vec<&OperationSpec> = spec
        .operations
        .iter()
        .filter(|o| {
            o.creates.is_none()
                && parse_operation(&o.request)
                    .is_ok_and(|(m, p)| m != reqwest::Method::GET && p.contains("{id}"))
        })
        .collect();
    if !writes_to_one.is_empty() {
        for c in &creates {
            actions.push((Action::Story(c), total_weight * 0.06 / creates.len() as f64));
        }
    }
    let reads: Vec<&OperationSpec> = spec
        .operations
        .iter()
        .filter(|o| {
            o.body.is_none()
                && parse_operation(&o.request)
                    .is_ok_and(|(m, p)| m == reqwest::Method::GET && !p.contains('{'))
        })
        .collect();
    if !creates.is_empty() {
        for r in &reads {
            actions.push((
                Action::Differential(r),
                total_weight * 0.04 / reads.len() as f64,
            ));
        }
    }
    let scope_of = |w: &str| {
        profile
            .spec
            .properties
            .as_ref()
            .and_then(|p| p.scopes.get(w).cloned())
            .unwrap_or_else(|| w.to_string())
    };
    let sum: f64 = actions.iter().map(|(_, w)| w).sum();

    let mut known: Vec<Known> = Vec::new();
    let mut out: Vec<Planned> = Vec::with_capacity(steps);
    while out.len() < steps {
        let i = out.len();
        let mut pick = rng.random_range(0.0..sum.max(f64::MIN_POSITIVE));
        let mut action = &actions[0].0;
        for (a, w) in &actions {
            if pick < *w {
                action = a;
                break;
            }
            pick -= w;
        }
        let n = i + 1;
        let planned = match action {
            Action::Story(create) => {
                let who = walkers[rng.random_range(0..walkers.len())].clone();
                let made = step_for(
                    create,
                    &mut rng,
                    profile,
                    std::slice::from_ref(&who),
                    &BTreeMap::new(),
                    &mut known,
                    prefix,
                    n,
                );
                let Some(var) = made.defines.clone() else {
                    continue;
                };
                out.push(made);
                let writes = rng.random_range(2..=4);
                for _ in 0..writes {
                    let op = writes_to_one[rng.random_range(0..writes_to_one.len())];
                    let k = out.len() + 1;
                    let request = request_value(
                        op,
                        &mut rng,
                        Some(&format!("{{{{ {var} }}}}")),
                        None,
                        profile,
                    );
                    out.push(Planned {
                        step: json!({ "name": format!("{k}: {} of {var} as {who} (story)", op.name), "as": who, "request": request }),
                        defines: None,
                        uses: vec![var.clone()],
                    });
                }
                let op = reread.unwrap_or(writes_to_one[0]);
                let k = out.len() + 1;
                let request = request_value(
                    op,
                    &mut rng,
                    Some(&format!("{{{{ {var} }}}}")),
                    None,
                    profile,
                );
                Planned {
                    step: json!({ "name": format!("{k}: {} of {var} as {who} (story)", op.name), "as": who, "request": request }),
                    defines: None,
                    uses: vec![var.clone()],
                }
            }
            Action::Differential(read) => {
                let x = walkers[rng.random_range(0..walkers.len())].clone();
                let others: Vec<&String> = walkers
                    .iter()
                    .filter(|w| scope_of(w) != scope_of(&x))
                    .collect();
                if others.is_empty() {
                    continue;
                }
                let y = others[rng.random_range(0..others.len())].clone();
                let request = request_value(read, &mut rng, None, None, profile);
                let create = creates[rng.random_range(0..creates.len())];
                let mut write = step_for(
                    create,
                    &mut rng,
                    profile,
                    std::slice::from_ref(&y),
                    &BTreeMap::new(),
                    &mut known,
                    prefix,
                    n + 1,
                );
                if let Some(name) = write.step.get_mut("name") {
                    *name = json!(format!(
                        "{}: {} as {y} (between two reads by {x})",
                        n + 1,
                        create.name
                    ));
                }
                let read_step = |k: usize| Planned {
                    step: json!({
                        "name": format!("{k}: {} as {x} (differential)", read.name),
                        "as": x,
                        "request": request,
                    }),
                    defines: None,
                    uses: Vec::new(),
                };
                out.push(read_step(n));
                out.push(write);
                read_step(n + 2)
            }
            Action::Op(op) => step_for(
                op, &mut rng, profile, &walkers, &derived, &mut known, prefix, n,
            ),
            Action::Burst(op) => {
                let copies = rng.random_range(2..=max_burst);
                let identity = walkers[rng.random_range(0..walkers.len())].clone();
                let request = request_value(op, &mut rng, None, None, profile);
                Planned {
                    step: json!({
                        "name": format!("{n}: burst of {copies} × {} as {identity}", op.name),
                        "as": identity,
                        "parallel": {
                            "copies": copies,
                            "expect": { "min_passed": 0 },
                            "steps": [{ "name": op.name, "request": request }],
                        },
                    }),
                    defines: None,
                    uses: Vec::new(),
                }
            }
            Action::Reread => {
                let old: Vec<&Known> = known
                    .iter()
                    .filter(|k| k.at + OLD_AFTER_STEPS <= n)
                    .collect();
                match (reread, old.is_empty()) {
                    (Some(op), false) => {
                        let k = old[rng.random_range(0..old.len())];
                        let delay = rng.random_range(0..=3) * 100;
                        let request = request_value(op, &mut rng, Some(&k.var), None, profile);
                        Planned {
                            step: json!({
                                "name": format!("{n}: {} of {} (old) as {}, later", op.name, k.var, k.creator),
                                "as": k.creator,
                                "delay": format!("{delay}ms"),
                                "request": request,
                            }),
                            defines: None,
                            uses: vec![k.var.clone()],
                        }
                    }
                    _ => {
                        let op = reread.unwrap_or(&spec.operations[0]);
                        step_for(
                            op, &mut rng, profile, &walkers, &derived, &mut known, prefix, n,
                        )
                    }
                }
            }
        };
        out.push(planned);
    }
    out.truncate(steps);
    out
}

/// The operation used to re-read one resource: the first `GET` with `{id}`.
pub(crate) fn reread_operation(spec: &ExploreSpec) -> Option<&OperationSpec> {
    spec.operations.iter().find(|o| {
        parse_operation(&o.request)
            .is_ok_and(|(m, p)| m == reqwest::Method::GET && p.contains("{id}"))
    })
}

fn weight(o: &OperationSpec) -> f64 {
    o.weight.unwrap_or(1.0).max(0.0)
}

#[allow(clippy::too_many_arguments)]
fn step_for(
    op: &OperationSpec,
    rng: &mut StdRng,
    profile: &Profile,
    walkers: &[String],
    derived: &BTreeMap<&str, Vec<Derivation>>,
    known: &mut Vec<Known>,
    prefix: &str,
    n: usize,
) -> Planned {
    let needs_id = op.request.contains("{id}");
    let mut uses = Vec::new();
    let mut about = String::new();
    // Whose resource, and as whom: mostly the creator on its own resource; sometimes
    // someone else (another tenant's id), sometimes an id nobody created.
    let (target, mut identity) = if needs_id && !known.is_empty() && rng.random_bool(0.9) {
        let i = if rng.random_bool(0.5) {
            // A sequence on one resource (create, pause, delete, read…): follow up on
            // the one acted on last.
            (0..known.len())
                .max_by_key(|i| known[*i].touched)
                .unwrap_or(0)
        } else if rng.random_bool(0.6) {
            // Recent resources are where the action is.
            rng.random_range(known.len().saturating_sub(5)..known.len())
        } else {
            rng.random_range(0..known.len())
        };
        known[i].touched = n;
        let k = &known[i];
        uses.push(k.var.clone());
        let identity = if rng.random_bool(0.8) {
            k.creator.clone()
        } else {
            let other = walkers[rng.random_range(0..walkers.len())].clone();
            if other != k.creator {
                about = format!(" ({}'s resource)", k.creator);
            }
            other
        };
        (Some(format!("{{{{ {} }}}}", k.var)), identity)
    } else if needs_id {
        about = " (an id nobody created)".to_string();
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        (
            Some(id.to_string()),
            walkers[rng.random_range(0..walkers.len())].clone(),
        )
    } else {
        (None, walkers[rng.random_range(0..walkers.len())].clone())
    };
    let mut headers = None;
    let variants = derived
        .get(identity.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !variants.is_empty() && rng.random_bool(0.12) {
        let d = &variants[rng.random_range(0..variants.len())];
        about.push_str(&format!(" [{}]", d.label));
        headers = Some(d.headers.clone());
    }
    let request = request_value(op, rng, target.as_deref(), headers, profile);
    let defines = op.creates.as_ref().map(|_| format!("{prefix}f{n}"));
    let mut step = Map::new();
    step.insert(
        "name".into(),
        Value::String(format!("{n}: {} as {identity}{about}", op.name)),
    );
    step.insert("as".into(), Value::String(std::mem::take(&mut identity)));
    step.insert("request".into(), request);
    if let (Some(var), Some(path)) = (&defines, &op.creates) {
        step.insert("capture".into(), json!({ var.clone(): path }));
        let creator = step
            .get("as")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        known.push(Known {
            var: var.clone(),
            creator,
            at: n,
            touched: n,
        });
    }
    Planned {
        step: Value::Object(step),
        defines,
        uses,
    }
}

/// The `request:` of a step: method, path with the id, generated query and body.
fn request_value(
    op: &OperationSpec,
    rng: &mut StdRng,
    id: Option<&str>,
    headers: Option<BTreeMap<String, Option<String>>>,
    profile: &Profile,
) -> Value {
    let (method, path) = parse_operation(&op.request)
        .map(|(m, p)| (m.to_string(), p))
        .unwrap_or_else(|_| ("GET".to_string(), "/".to_string()));
    let path = match id {
        Some(id) => path.replace("{id}", id),
        None => path,
    };
    let mut r = Map::new();
    r.insert("method".into(), Value::String(method));
    r.insert("path".into(), Value::String(path));
    let mut query = Map::new();
    for (k, v) in &op.query {
        let g = generate(v, rng);
        if !g.is_null() {
            query.insert(k.clone(), g);
        }
    }
    if !query.is_empty() {
        r.insert("query".into(), Value::Object(query));
    }
    if let Some(h) = headers {
        r.insert("headers".into(), json!(h));
    }
    if let Some(body) = &op.body {
        r.insert("json".into(), generate(body, rng));
    }
    let _ = profile;
    Value::Object(r)
}

/// Names a view shows back, unusual but valid: the canary's unique part is a
/// `{{ uuid }}`, so a repro replayed twice never meets its own earlier flows.
const TEXT_FORMS: &[&str] = &[
    "explore",
    "Ünïcødé naïve café ✓",
    "名前のフロー 試験",
    "🚀🌍 émoji ok",
    "שלום عربى mixed",
    "it's \"quoted\" <b>&amp; \\ /",
    "ﬁ ligature Ω≈ç√",
];

/// Evaluates the generators of a query or body template.
pub(crate) fn generate(template: &Value, rng: &mut StdRng) -> Value {
    match template {
        Value::Object(m) if m.contains_key("$one_of") => match m.get("$one_of") {
            Some(Value::Array(options)) if !options.is_empty() => {
                generate(&options[rng.random_range(0..options.len())], rng)
            }
            _ => Value::Null,
        },
        Value::Object(m) if m.contains_key("$int") => {
            let bounds = m.get("$int").and_then(Value::as_array);
            let lo = bounds
                .and_then(|b| b.first())
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let hi = bounds
                .and_then(|b| b.get(1))
                .and_then(Value::as_i64)
                .unwrap_or(lo)
                .max(lo);
            let v = match rng.random_range(0..4) {
                0 => lo,
                1 => hi,
                _ => rng.random_range(lo..=hi),
            };
            json!(v)
        }
        Value::Object(m) if m.contains_key("$text") => {
            let canary = m.get("$text").and_then(Value::as_str) == Some("canary");
            let max = m
                .get("$max_chars")
                .and_then(Value::as_u64)
                .unwrap_or(64)
                .max(40) as usize;
            let form = TEXT_FORMS[rng.random_range(0..TEXT_FORMS.len())];
            let unique = if canary { " {{ uuid }}" } else { "" };
            // One in five is as long as allowed (a uuid is 36 characters).
            let text = if rng.random_bool(0.2) {
                let room = max.saturating_sub(if canary { 37 } else { 0 });
                let long: String = form.chars().cycle().take(room).collect();
                format!("{}{unique}", long.trim_end())
            } else {
                format!("{form}{unique}")
            };
            Value::String(text)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), generate(v, rng)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| generate(i, rng)).collect()),
        other => other.clone(),
    }
}
