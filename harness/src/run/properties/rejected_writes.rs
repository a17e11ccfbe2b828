//! The rejected-writes property: a create the target refused stores nothing.

use super::*;

/// After a create answered 4xx/5xx, no view answered later shows a resource with that
/// request's canary, unless a create with the same canary was accepted (a client that
/// retries after 429 or 503 with the same body, an idempotent replay). Then the 429s
/// still stored nothing: views show no more resources with that canary than there were
/// creates of it answered otherwise than 429 (any of which, unanswered or failed, may
/// have stored one).
pub fn rejected_writes(
    history: &[Observation],
    profile: &Profile,
    canary: &str,
    sightings: &[Sighting],
) -> Vec<Violation> {
    // Only a name unique to the run is a canary: one holding a UUID (`{{ uuid }}`), so a
    // foreign target's own flows named `x` never count.
    let canary_of = |o: &Observation| {
        o.request
            .as_ref()
            .filter(|_| is_create(o, profile))
            .and_then(|b| first_text(canary, b))
            .filter(|n| holds_uuid(n))
    };
    let accepted: HashSet<String> = history
        .iter()
        .filter(|o| o.is_success())
        .filter_map(canary_of)
        .collect();
    let mut out = Vec::new();
    for o in history
        .iter()
        .filter(|o| o.status.is_some_and(|s| s >= 400))
    {
        let Some(name) = canary_of(o).filter(|n| !accepted.contains(n)) else {
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
    for name in &accepted {
        let creates: Vec<&Observation> = history
            .iter()
            .filter(|o| canary_of(o).as_deref() == Some(name.as_str()))
            .collect();
        let Some(throttled) = creates.iter().find(|o| o.status == Some(429)) else {
            continue;
        };
        let may_have_stored = creates.iter().filter(|o| o.status != Some(429)).count();
        let mut shown: Vec<&Sighting> = Vec::new();
        for s in sightings.iter().filter(|s| s.name.as_deref() == Some(name)) {
            if !shown.iter().any(|k| k.id.eq_ignore_ascii_case(&s.id)) {
                shown.push(s);
            }
        }
        if shown.len() > may_have_stored {
            out.push(Violation {
                resource: shown.last().map(|s| s.id.clone()),
                message: format!(
                    "{} resources are shown with the name `{name}`, but only {may_have_stored} of its creates were not refused with 429",
                    shown.len()
                ),
                exchanges: std::iter::once(throttled.seq)
                    .chain(shown.iter().map(|s| s.seq))
                    .collect(),
            });
        }
    }
    out
}
