//! `parallel:` — copies of a step at once (concurrency checks).

use crate::run::*;

impl Exec<'_> {
    pub(crate) async fn parallel_step(
        &self,
        turn: Turn<'_>,
        par: &Parallel,
        vars: &mut Vars,
    ) -> StepResult {
        let Turn { step, identity } = turn;
        let mut r = self.new_result(step, StepKind::Parallel);
        let captured = captures_of(&par.steps, self.suite);
        let copies = (0..par.copies).map(|i| {
            let mut copy_vars = vars.clone();
            copy_vars.set("copy", Value::from(i));
            let captured = &captured;
            async move {
                let started = Instant::now();
                let (children, outcome) = self
                    .run_sequence(&par.steps, &mut copy_vars, identity)
                    .await;
                let caps: BTreeMap<String, Value> = captured
                    .iter()
                    .filter_map(|n| copy_vars.get(n).map(|v| (n.clone(), v.clone())))
                    .collect();
                let summary = first_unpassed_summary(&children);
                let res = group_result(
                    format!("copy {i}"),
                    "parallel",
                    outcome,
                    summary,
                    started,
                    children,
                );
                (res, caps)
            }
        });
        let done: Vec<(StepResult, BTreeMap<String, Value>)> =
            futures::future::join_all(copies).await;
        let passed = done
            .iter()
            .filter(|(c, _)| c.outcome == Outcome::Passed)
            .count() as u32;
        let errors = done
            .iter()
            .filter(|(c, _)| c.outcome == Outcome::Error)
            .count();
        let expect = par.expect.clone().unwrap_or_default();
        let all_passed = expect
            .all_passed
            .unwrap_or(expect.min_passed.is_none() && expect.max_passed.is_none());
        let mut problems: Vec<(String, String, String)> = Vec::new();
        if errors > 0 {
            r.outcome = Outcome::Error;
            r.summary = Some(format!(
                "{errors} of {} copies could not be carried out",
                par.copies
            ));
        }
        if all_passed && passed != par.copies {
            problems.push((
                format!("{} of {} copies failed", par.copies - passed, par.copies),
                format!("all {} copies pass", par.copies),
                format!("{passed} passed"),
            ));
        }
        if let Some(max) = expect.max_passed {
            if passed > max {
                problems.push((
                    format!("{passed} copies passed, at most {max} may"),
                    format!("at most {max} passed"),
                    format!("{passed} passed"),
                ));
            }
        }
        if let Some(min) = expect.min_passed {
            if passed < min {
                problems.push((
                    format!("{passed} copies passed, at least {min} must"),
                    format!("at least {min} passed"),
                    format!("{passed} passed"),
                ));
            }
        }
        for name in &expect.distinct {
            let vals: Vec<&Value> = done.iter().filter_map(|(_, c)| c.get(name)).collect();
            let mut seen = std::collections::HashSet::new();
            let dups: Vec<String> = vals
                .iter()
                .filter(|v| !seen.insert(v.to_string()))
                .map(|v| value_text(v))
                .collect();
            if !dups.is_empty() {
                problems.push((
                    format!(
                        "`{name}` is not distinct across copies: {} repeated",
                        dups.len()
                    ),
                    format!("distinct `{name}`"),
                    format!("repeated: {}", dups.join(", ")),
                ));
            }
        }
        for name in &expect.same {
            let vals: Vec<&Value> = done.iter().filter_map(|(_, c)| c.get(name)).collect();
            let distinct: std::collections::BTreeSet<String> =
                vals.iter().map(|v| value_text(v)).collect();
            if distinct.len() > 1 {
                problems.push((
                    format!(
                        "`{name}` differs across copies ({} distinct values)",
                        distinct.len()
                    ),
                    format!("the same `{name}` in every copy"),
                    distinct.into_iter().collect::<Vec<_>>().join(", "),
                ));
            }
        }
        for (name, cap) in &par.collect {
            let arr: Vec<Value> = done
                .iter()
                .filter_map(|(_, c)| c.get(cap).cloned())
                .collect();
            vars.set(name.clone(), Value::Array(arr));
        }
        if r.outcome != Outcome::Error {
            if let Some((message, expected, actual)) = problems.into_iter().next() {
                r.outcome = Outcome::Failed;
                r.summary = Some(message.clone());
                // The first failing copy explains the response.
                let sample = done.iter().find_map(|(c, _)| first_failure(c)).cloned();
                r.failure = Some(Failure {
                    message,
                    expected: Some(expected),
                    actual: Some(actual),
                    response_excerpt: sample.as_ref().and_then(|f| f.response_excerpt.clone()),
                    curl: sample.and_then(|f| f.curl),
                });
            } else {
                r.summary = Some(format!("{passed} of {} copies passed", par.copies));
            }
        }
        r.children = done.into_iter().map(|(c, _)| c).collect();
        r
    }
}
