//! `for_each:` — a step once per row of data (data-driven checks).

use crate::run::*;

impl Exec<'_> {
    pub(crate) async fn for_each_step(
        &self,
        turn: Turn<'_>,
        fe: &ForEach,
        vars: &mut Vars,
    ) -> StepResult {
        let Turn { step, identity } = turn;
        let mut r = self.new_result(step, StepKind::ForEach);
        let var = fe.var.clone().unwrap_or_else(|| "item".into());
        let items = fe.items.clone().unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let mut inner = vars.clone();
            let item = match inner.interpolate_value(item) {
                Ok(v) => v,
                Err(e) => {
                    r.children.push(step_result(
                        &format!("[{i}]"),
                        "for_each",
                        Outcome::Error,
                        Some(simple_failure(&e.0)),
                    ));
                    continue;
                }
            };
            inner.set(var.clone(), item.clone());
            inner.set("index", Value::from(i));
            let started = Instant::now();
            let (children, outcome) = self.run_sequence(&fe.steps, &mut inner, identity).await;
            let mut label = value_text(&item);
            if label.len() > 60 {
                let mut end = 60;
                while !label.is_char_boundary(end) {
                    end -= 1;
                }
                label.truncate(end);
                label.push('…');
            }
            let summary = first_unpassed_summary(&children);
            r.children.push(group_result(
                format!("[{i}] {label}"),
                "for_each",
                outcome,
                summary,
                started,
                children,
            ));
        }
        r.outcome = combine(r.children.iter().map(|c| c.outcome));
        let failed = r
            .children
            .iter()
            .filter(|c| c.outcome != Outcome::Passed)
            .count();
        r.summary = Some(if failed == 0 {
            format!("{} item(s) passed", items.len())
        } else {
            format!("{failed} of {} item(s) did not pass", items.len())
        });
        if r.outcome != Outcome::Passed {
            r.failure = r
                .children
                .iter()
                .find_map(first_failure)
                .cloned()
                .map(|mut f| {
                    f.message = format!("{}: {}", r.summary.clone().unwrap_or_default(), f.message);
                    f
                });
        }
        r
    }
}
