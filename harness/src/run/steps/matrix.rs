//! `matrix:` — the cross-tenant access matrix: every resource of one identity read,
//! listed, changed and deleted by every other.

use crate::run::*;

impl Exec<'_> {
    pub(crate) async fn matrix_request(
        &self,
        name: String,
        mr: &MatrixRequest,
        vars: &mut Vars,
        identity: &str,
        fallback_expect: Option<&Expect>,
    ) -> (StepResult, Option<ResponseData>) {
        let mut r = step_result(&name, "matrix", Outcome::Passed, None);
        let started = Instant::now();
        let expect = mr.expect.as_ref().or(fallback_expect);
        let resp = self
            .exchange(
                &mut r,
                &mr.request,
                expect,
                mr.capture.as_ref(),
                vars,
                Some(identity),
            )
            .await;
        r.duration_ms = started.elapsed().as_millis() as u64;
        (r, resp)
    }

    pub(crate) async fn matrix_step(&self, step: &Step, m: &Matrix, vars: &mut Vars) -> StepResult {
        let mut r = self.new_result(step, StepKind::Matrix);
        let mut cells = 0usize;
        let mut leaks = 0usize;
        for owner in &m.owners {
            let mut ovars = vars.clone();
            ovars.set("owner", Value::String(owner.clone()));
            ovars.set("intruder", Value::String(String::new()));
            let (create, resp) = self
                .matrix_request(
                    format!("{owner}: create"),
                    &m.create,
                    &mut ovars,
                    owner,
                    None,
                )
                .await;
            let create_ok = create.outcome == Outcome::Passed;
            r.children.push(create);
            let Some(resp) = resp.filter(|_| create_ok) else {
                continue;
            };
            // Marker values: what must never show in an intruder's response.
            let mut markers: Vec<String> = Vec::new();
            if let Some(doc) = resp.json() {
                for mk in &m.markers {
                    if let Ok(Some(v)) = query_json(mk, &doc) {
                        let vals = match v {
                            Value::Array(items) if !crate::run::assert::is_singular_path(mk) => {
                                items
                            }
                            other => vec![other],
                        };
                        for v in vals {
                            let t = value_text(&v);
                            if !v.is_null() && t.len() >= 4 {
                                markers.push(t);
                            }
                        }
                    }
                }
            }
            for intruder in m.intruders.iter().filter(|i| *i != owner) {
                let mut ivars = ovars.clone();
                ivars.set("intruder", Value::String(intruder.clone()));
                for attempt in &m.attempts {
                    cells += 1;
                    let mr = MatrixRequest {
                        request: attempt.request.clone(),
                        expect: Some(m.denied.clone()),
                        capture: None,
                    };
                    let (mut cell, resp) = self
                        .matrix_request(
                            format!("{intruder} → {owner}: {}", attempt.name),
                            &mr,
                            &mut ivars,
                            intruder,
                            None,
                        )
                        .await;
                    if let Some(resp) = &resp {
                        if let Some(leak) = find_leak(resp, &markers) {
                            leaks += 1;
                            let curl = cell.failure.as_ref().and_then(|f| f.curl.clone());
                            let also = cell
                                .failure
                                .as_ref()
                                .map(|f| format!("; {}", f.message))
                                .unwrap_or_default();
                            cell.outcome = Outcome::Failed;
                            let f = Failure {
                                message: format!("{intruder}'s response to `{}` leaks {owner}'s value `{leak}`{also}", attempt.name),
                                expected: Some(format!("no value of {owner}'s resource")),
                                actual: Some(format!("`{leak}` in the response")),
                                response_excerpt: Some(excerpt(&resp.body, EXCERPT_BYTES)),
                                curl: curl.or_else(|| {
                                    prepare_request(&attempt.request, &ivars, self.profile, Some(intruder)).ok().map(|p| p.curl())
                                }),
                            };
                            cell.summary = Some(f.message.clone());
                            cell.failure = Some(f);
                        }
                    }
                    r.children.push(cell);
                }
                if let Some(list) = &m.list {
                    cells += 1;
                    let (mut cell, resp) = self
                        .matrix_request(
                            format!("{intruder} → {owner}: list"),
                            list,
                            &mut ivars,
                            intruder,
                            None,
                        )
                        .await;
                    if let Some(resp) = &resp {
                        if let Some(leak) = find_leak(resp, &markers) {
                            leaks += 1;
                            cell.outcome = Outcome::Failed;
                            let f = Failure {
                                message: format!(
                                    "{intruder}'s list leaks {owner}'s value `{leak}`"
                                ),
                                expected: Some(format!("no value of {owner}'s resource")),
                                actual: Some(format!("`{leak}` in the response")),
                                response_excerpt: Some(excerpt(&resp.body, EXCERPT_BYTES)),
                                curl: prepare_request(
                                    &list.request,
                                    &ivars,
                                    self.profile,
                                    Some(intruder),
                                )
                                .ok()
                                .map(|p| p.curl()),
                            };
                            cell.summary = Some(f.message.clone());
                            cell.failure = Some(f);
                        }
                    }
                    r.children.push(cell);
                }
            }
            if let Some(verify) = &m.verify {
                let mut vvars = ovars.clone();
                let (cell, _) = self
                    .matrix_request(format!("{owner}: verify"), verify, &mut vvars, owner, None)
                    .await;
                r.children.push(cell);
            }
        }
        r.outcome = combine(r.children.iter().map(|c| c.outcome));
        let bad = r
            .children
            .iter()
            .filter(|c| c.outcome != Outcome::Passed)
            .count();
        r.summary = Some(format!(
            "{cells} intruder cell(s), {leaks} leak(s), {bad} check(s) did not pass"
        ));
        if r.outcome != Outcome::Passed {
            if let Some(c) = r.children.iter().find(|c| c.outcome != Outcome::Passed) {
                r.failure = c.failure.clone().map(|mut f| {
                    f.message = format!("{}: {}", c.name, f.message);
                    f
                });
            }
        }
        r
    }
}

pub(crate) fn find_leak(resp: &ResponseData, markers: &[String]) -> Option<String> {
    let body = resp.text();
    markers.iter().find(|m| body.contains(m.as_str())).cloned()
}
