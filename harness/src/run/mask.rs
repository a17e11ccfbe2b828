//! Secrets masked over every string of a result, before it leaves the runner.

use super::*;

/// Masks secrets in every string of a result.
pub fn mask_scenario(r: &mut ScenarioResult, m: &Masker) {
    if m.is_empty() {
        return;
    }
    for s in &mut r.steps {
        mask_step(s, m);
    }
    for x in &mut r.measurements {
        m.mask_in_place(&mut x.metric);
    }
}

pub(crate) fn mask_step(s: &mut StepResult, m: &Masker) {
    m.mask_in_place(&mut s.name);
    if let Some(x) = s.summary.as_mut() {
        m.mask_in_place(x);
    }
    if let Some(f) = s.failure.as_mut() {
        mask_failure(f, m);
    }
    for st in &mut s.states_seen {
        m.mask_in_place(st);
    }
    for e in &mut s.exchanges {
        m.mask_in_place(&mut e.url);
    }
    for c in &mut s.children {
        mask_step(c, m);
    }
}

pub(crate) fn mask_failure(f: &mut Failure, m: &Masker) {
    m.mask_in_place(&mut f.message);
    for x in [
        &mut f.expected,
        &mut f.actual,
        &mut f.response_excerpt,
        &mut f.curl,
    ]
    .into_iter()
    .flatten()
    {
        m.mask_in_place(x);
    }
}
