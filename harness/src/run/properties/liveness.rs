//! The liveness property: nothing stays in a state longer than the profile allows.

use super::*;

/// Liveness: no resource stays in a state longer than the state machine's `max_dwell`
/// for it. The stay is measured from the first answer showing the state (the create's
/// answer counts) to the start of a later one still showing it, with no other state seen
/// and no write to the resource in between — a lower bound on the real stay.
pub fn liveness(
    history: &[Observation],
    sightings: &[Sighting],
    created: &HashMap<String, Creation>,
    machine: &StateMachine,
    status_path: Option<&str>,
) -> (Vec<Violation>, usize) {
    // id → (time, seq, status) of every look, and the times of writes to it.
    let mut looks: HashMap<String, Vec<(f64, f64, u64, String)>> = HashMap::new();
    for s in sightings {
        if let Some(st) = &s.status {
            looks.entry(s.id.to_ascii_lowercase()).or_default().push((
                s.started_ms,
                s.ended_ms,
                s.seq,
                st.clone(),
            ));
        }
    }
    for (id, c) in created {
        if let Some(st) = status_path.and_then(|p| first_text(p, &c.response)) {
            looks
                .entry(id.clone())
                .or_default()
                .push((c.ended_ms, c.ended_ms, c.seq, st));
        }
    }
    let mut writes: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for o in history
        .iter()
        .filter(|o| !matches!(o.method.as_str(), "GET" | "HEAD" | "OPTIONS"))
    {
        for seg in o.route().split('/') {
            if looks.contains_key(&seg.to_ascii_lowercase()) {
                writes
                    .entry(seg.to_ascii_lowercase())
                    .or_default()
                    .push((o.started_ms, o.ended_ms));
            }
        }
    }
    let mut out = Vec::new();
    let mut stuck_by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids: Vec<&String> = looks.keys().collect();
    ids.sort();
    for id in ids {
        let mut list = looks[id].clone();
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        let w = writes.get(id).cloned().unwrap_or_default();
        let mut since: Option<(f64, u64, String)> = None;
        for (started, ended, seq, status) in list {
            let keep = since.as_ref().is_some_and(|(t, _, st)| {
                *st == status && !w.iter().any(|(ws, we)| *we >= *t && *ws <= started)
            });
            if !keep {
                since = Some((ended, seq, status));
                continue;
            }
            let Some((t0, seq0, st)) = &since else {
                continue;
            };
            let Some(limit) = machine.max_dwell.get(st) else {
                continue;
            };
            let stayed = started - t0;
            if stayed > limit.0.as_secs_f64() * 1000.0 {
                *stuck_by_state.entry(st.clone()).or_default() += 1;
                out.push(Violation {
                    resource: Some(id.clone()),
                    message: format!(
                        "still `{st}` {:.1} s after it was first seen so (max_dwell {} s)",
                        stayed / 1000.0,
                        limit.0.as_secs_f64()
                    ),
                    exchanges: vec![*seq0, seq],
                });
                break;
            }
        }
    }
    let tracked = looks.len();
    (out, tracked)
}
