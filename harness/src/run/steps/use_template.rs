//! `use:` — a reusable step template from the suite's library.

use crate::run::*;

impl Exec<'_> {
    pub(crate) async fn use_step(&self, turn: Turn<'_>, name: &str, vars: &mut Vars) -> StepResult {
        let Turn { step, identity } = turn;
        let mut r = self.new_result(step, StepKind::Use);
        let Some(t) = self.suite.template(name) else {
            r.outcome = Outcome::Error;
            r.failure = Some(simple_failure(&format!("unknown template `{name}`")));
            return r;
        };
        let mut inner = vars.clone();
        if let Some(with) = &step.with {
            for (k, v) in with {
                match vars.interpolate_value(v) {
                    Ok(x) => inner.set(k.clone(), x),
                    Err(e) => {
                        r.outcome = Outcome::Error;
                        r.failure = Some(simple_failure(&format!("parameter `{k}`: {e}")));
                        return r;
                    }
                }
            }
        }
        let (children, outcome) = self.run_sequence(&t.steps, &mut inner, identity).await;
        for cap in captures_of(&t.steps, self.suite) {
            if let Some(v) = inner.get(&cap) {
                vars.set(cap, v.clone());
            }
        }
        r.outcome = outcome;
        if outcome != Outcome::Passed {
            if let Some(c) = children.iter().find(|c| c.outcome != Outcome::Passed) {
                r.summary = Some(format!(
                    "step `{}`: {}",
                    c.name,
                    c.summary.clone().unwrap_or_default()
                ));
            }
            r.failure = children.iter().find_map(first_failure).cloned();
        } else {
            r.summary = Some(format!(
                "template `{name}`: {} step(s) passed",
                children.len()
            ));
        }
        r.children = children;
        r
    }
}
