//! One scenario's execution: setup, steps and teardown in order, each step sent,
//! checked and recorded. Each step kind lives in [`super::steps`].

use super::*;

pub(crate) struct Exec<'a> {
    pub(crate) suite: &'a Suite,
    pub(crate) profile: &'a Profile,
    pub(crate) client: reqwest::Client,
    pub(crate) measurements: Mutex<Vec<Measurement>>,
    /// What this scenario created on the target (removed after its teardown).
    pub(crate) created: Mutex<Vec<cleanup::Created>>,
    /// Every answered request of the run (all scenarios), for the API coverage.
    pub(crate) answered: Arc<Mutex<Vec<coverage::Answered>>>,
    /// Every exchange of the run, for the property checks and `--history`.
    pub(crate) history: Arc<history::History>,
    /// What is left of the run's time for waiting out 429s.
    pub(crate) throttle_budget: Arc<ThrottleBudget>,
    pub(crate) scenario_id: String,
}

/// One request's outcome inside a step.
pub(crate) struct Sent {
    pub(crate) req: PreparedRequest,
    pub(crate) resp: Result<ResponseData, String>,
    /// The answers 429 that came before `resp`, each waited out (see `throttling`).
    pub(crate) throttled: Vec<Exchange>,
}

impl Sent {
    /// The final answer's exchange.
    pub(crate) fn exchange(&self) -> Exchange {
        exchange_of(&self.req, &self.resp)
    }

    /// Every exchange, the throttled ones first.
    pub(crate) fn exchanges(&self) -> impl Iterator<Item = Exchange> + '_ {
        self.throttled
            .iter()
            .cloned()
            .chain(std::iter::once(self.exchange()))
    }

    pub(crate) fn failure(&self, m: Mismatch) -> Failure {
        let followed = match self.resp.as_ref().ok().and_then(|r| r.final_url.as_deref()) {
            Some(url) => format!(" (after following redirects to {url})"),
            None => String::new(),
        };
        Failure {
            message: format!("{}{followed}", m.message),
            expected: Some(m.expected),
            actual: Some(m.actual),
            response_excerpt: self
                .resp
                .as_ref()
                .ok()
                .map(|r| excerpt(&r.body, EXCERPT_BYTES)),
            curl: Some(self.req.curl()),
        }
    }
}

fn exchange_of(req: &PreparedRequest, resp: &Result<ResponseData, String>) -> Exchange {
    Exchange {
        method: req.method.to_string(),
        url: req.url.clone(),
        status: resp.as_ref().ok().map(|r| r.status),
        duration_ms: resp
            .as_ref()
            .map(|r| r.duration.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
        identity: req.identity.clone(),
        redirected_to: resp.as_ref().ok().and_then(|r| r.final_url.clone()),
    }
}

/// The run's time spent waiting out 429s, on the wall clock: waits that overlap count
/// once (fifty copies of a parallel step waiting the same second cost one second). Once it
/// reaches `throttling.max_total_wait`, no further wait begins. Shared by the run's
/// scenarios.
#[derive(Debug)]
pub(crate) struct ThrottleBudget {
    max: Duration,
    clock: Mutex<WaitClock>,
}

#[derive(Debug, Default)]
struct WaitClock {
    /// Waits in progress.
    waiting: usize,
    /// Since when at least one wait has been in progress.
    busy_since: Option<Instant>,
    /// Time with a wait in progress before `busy_since`.
    spent: Duration,
}

impl ThrottleBudget {
    pub(crate) fn of(profile: &Profile) -> Arc<Self> {
        let (_, _, max) = profile.throttling();
        Arc::new(ThrottleBudget {
            max,
            clock: Mutex::default(),
        })
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, WaitClock> {
        self.clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sleeps `wait`, unless the run has used up its time for waiting: false then.
    async fn wait(&self, wait: Duration) -> bool {
        {
            let mut c = self.clock();
            let ongoing = c.busy_since.map_or(Duration::ZERO, |t| t.elapsed());
            if c.spent + ongoing >= self.max {
                return false;
            }
            c.waiting += 1;
            c.busy_since.get_or_insert_with(Instant::now);
        }
        // Ends the wait in the clock however the sleep ends (also when dropped).
        struct Waiting<'a>(&'a ThrottleBudget);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                let mut c = self.0.clock();
                c.waiting = c.waiting.saturating_sub(1);
                if c.waiting == 0 {
                    if let Some(t) = c.busy_since.take() {
                        c.spent += t.elapsed();
                    }
                }
            }
        }
        let _waiting = Waiting(self);
        tokio::time::sleep(wait).await;
        true
    }
}

/// What a step's `expect.status` admits that the harness would otherwise treat apart.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expecting {
    /// A 5xx (the property checks then do not count it against the target).
    pub(crate) server_error: bool,
    /// A 429 (it is then the answer, not waited out and sent again).
    pub(crate) too_many_requests: bool,
}

impl Expecting {
    pub(crate) fn of(expect: Option<&Expect>) -> Self {
        let admits = |p: &dyn Fn(u16) -> bool| {
            expect
                .and_then(|e| e.status.as_ref())
                .is_some_and(|s| match s {
                    StatusSpec::One(c) => p(*c),
                    StatusSpec::Any(cs) => cs.iter().any(|c| p(*c)),
                    // Known only once the template is expanded: assume it may.
                    StatusSpec::Template(_) => true,
                })
        };
        Expecting {
            server_error: admits(&|c| c >= 500),
            too_many_requests: admits(&|c| c == 429),
        }
    }
}

/// A step being run and the identity it acts as (its own `as:`, else the one it
/// inherited).
#[derive(Clone, Copy)]
pub(crate) struct Turn<'a> {
    pub(crate) step: &'a Step,
    pub(crate) identity: Option<&'a str>,
}

impl<'a> Exec<'a> {
    pub(crate) async fn run_scenario(&self, s: &SuiteScenario, run_id: &str) -> ScenarioResult {
        let started = Instant::now();
        let mut result = base_result(s);
        let mut vars = Vars::new(run_id, s.id.clone());
        let mut init_error = None;
        for (k, v) in &self.profile.spec.variables {
            match vars.interpolate_value(v) {
                Ok(x) => vars.set(k.clone(), x),
                Err(e) => init_error = Some(format!("profile variable `{k}`: {e}")),
            }
        }
        for (k, v) in &s.scenario.variables {
            match vars.interpolate_value(v) {
                Ok(x) => vars.set(k.clone(), x),
                Err(e) => init_error = Some(format!("variable `{k}`: {e}")),
            }
        }
        if let Some(e) = init_error {
            result.outcome = Outcome::Error;
            result.steps.push(step_result(
                "variables",
                "request",
                Outcome::Error,
                Some(simple_failure(&e)),
            ));
            return result;
        }

        let mut outcome = Outcome::Passed;
        if !s.scenario.setup.is_empty() {
            let group = self
                .run_group("setup", &s.scenario.setup, &mut vars, None)
                .await;
            outcome = group.outcome;
            result.steps.push(group);
        }
        if outcome == Outcome::Passed {
            let (steps, o) = self.run_sequence(&s.scenario.steps, &mut vars, None).await;
            result.steps.extend(steps);
            outcome = o;
        } else {
            for st in &s.scenario.steps {
                result.steps.push(not_run(st, "not run: setup failed"));
            }
        }
        if !s.scenario.teardown.is_empty() {
            let mut group = self
                .run_group("teardown", &s.scenario.teardown, &mut vars, None)
                .await;
            if group.outcome != Outcome::Passed {
                group.summary = Some(format!(
                    "teardown did not complete ({}); it never fails the scenario",
                    group.summary.unwrap_or_default()
                ));
            }
            result.steps.push(group);
        }
        if !self.profile.spec.resources.is_empty() {
            let created = self
                .created
                .lock()
                .map(|mut list| std::mem::take(&mut *list))
                .unwrap_or_default();
            result.cleanup = Some(
                cleanup::remove_all(
                    &self.client,
                    self.profile,
                    created,
                    &self.history,
                    &self.scenario_id,
                )
                .await,
            );
        }
        result.outcome = outcome;
        result.measurements = labelled(
            &s.scenario.name,
            self.measurements
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
        );
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    /// Setup (stops at the first failure) or teardown (every step runs).
    pub(crate) async fn run_group(
        &self,
        kind: &str,
        steps: &[Step],
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> StepResult {
        let started = Instant::now();
        let (children, outcome) = if kind == "teardown" {
            let mut children = Vec::new();
            for step in steps {
                children.push(self.run_step(step, vars, identity).await);
            }
            let outcome = combine(children.iter().map(|c| c.outcome));
            (children, outcome)
        } else {
            self.run_sequence(steps, vars, identity).await
        };
        let summary = children
            .iter()
            .find(|c| c.outcome != Outcome::Passed && c.outcome != Outcome::Skipped)
            .map(|c| {
                format!(
                    "step `{}`: {}",
                    c.name,
                    c.summary.clone().unwrap_or_default()
                )
            });
        group_result(kind.to_string(), kind, outcome, summary, started, children)
    }

    /// Runs steps in order; after the first failure the rest are Skipped.
    pub(crate) async fn run_sequence(
        &self,
        steps: &[Step],
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> (Vec<StepResult>, Outcome) {
        let mut results = Vec::new();
        let mut outcome = Outcome::Passed;
        for step in steps {
            if outcome != Outcome::Passed {
                results.push(not_run(step, "not run: an earlier step did not pass"));
                continue;
            }
            let r = self.run_step(step, vars, identity).await;
            outcome = combine([r.outcome]);
            results.push(r);
        }
        (results, outcome)
    }

    pub(crate) fn run_step<'s>(
        &'s self,
        step: &'s Step,
        vars: &'s mut Vars,
        inherited: Option<&'s str>,
    ) -> BoxFuture<'s, StepResult> {
        async move {
            if let Some(d) = step.delay {
                tokio::time::sleep(d.0).await;
            }
            let identity = step.identity.as_deref().or(inherited);
            let started = Instant::now();
            // The same precedence as `Step::kind` (the suite reader rejects a step with
            // two kinds); each kind's function gets its own part of the step.
            let turn = Turn { step, identity };
            let mut r = if step.request.is_some() {
                self.request_step(step, vars, identity).await
            } else if let Some(poll) = &step.poll {
                self.poll_step(turn, poll, vars).await
            } else if let Some(par) = &step.parallel {
                self.parallel_step(turn, par, vars).await
            } else if let Some(fe) = &step.for_each {
                self.for_each_step(turn, fe, vars).await
            } else if let Some(name) = &step.use_template {
                self.use_step(turn, name, vars).await
            } else if let Some(m) = &step.matrix {
                self.matrix_step(step, m, vars).await
            } else {
                self.request_step(step, vars, identity).await
            };
            r.duration_ms = started.elapsed().as_millis() as u64;
            r
        }
        .boxed()
    }

    pub(crate) fn new_result(&self, step: &Step, kind: StepKind) -> StepResult {
        step_result(&step.name, kind.as_str(), Outcome::Passed, None)
    }

    pub(crate) async fn send_spec(
        &self,
        spec: &RequestSpec,
        vars: &Vars,
        identity: Option<&str>,
        expecting: Expecting,
    ) -> Result<Sent, Failure> {
        let req = prepare_request(spec, vars, self.profile, identity).map_err(|e| Failure {
            message: format!("cannot build the request: {e}"),
            expected: None,
            actual: None,
            response_excerpt: None,
            curl: None,
        })?;
        let scopes = properties::scopes_of(
            self.profile,
            req.identity.as_deref().unwrap_or_default(),
            !spec.headers.is_empty(),
            &req.headers,
        );
        let (retries, max_wait, _) = self.profile.throttling();
        let mut throttled = Vec::new();
        let mut waited = Duration::ZERO;
        loop {
            let sent_ms = self.history.now_ms();
            let resp = send(&self.client, &req).await.map_err(|e| e.message);
            self.observe(&req, &resp, &scopes, sent_ms, expecting.server_error);
            let wait = match &resp {
                Ok(r) if !expecting.too_many_requests && throttled.len() < retries as usize => {
                    http::throttled_for(r, throttled.len() as u32, std::time::SystemTime::now())
                        .filter(|w| waited + *w <= max_wait)
                }
                _ => None,
            };
            // Up to a quarter more (at most 1 s), at random: the copies of a parallel
            // step refused together do not all come back in the same instant.
            let wait = wait.map(|w| {
                let jitter = w
                    .min(Duration::from_secs(4))
                    .mul_f64(rand::random_range(0.0..=0.25));
                (w + jitter).min(max_wait.saturating_sub(waited))
            });
            let waited_out = match wait {
                Some(w) => self.throttle_budget.wait(w).await,
                None => false,
            };
            let (true, Some(wait)) = (waited_out, wait) else {
                if let Ok(r) = &resp {
                    if let Some(c) = cleanup::created_by(self.profile, &req, r, scopes) {
                        if let Ok(mut list) = self.created.lock() {
                            list.push(c);
                        }
                    }
                }
                return Ok(Sent {
                    req,
                    resp,
                    throttled,
                });
            };
            throttled.push(exchange_of(&req, &resp));
            waited += wait;
        }
    }

    /// Records one answer (or transport error) in the run's history and API coverage.
    fn observe(
        &self,
        req: &PreparedRequest,
        resp: &Result<ResponseData, String>,
        scopes: &[String],
        sent_ms: f64,
        expected_5xx: bool,
    ) {
        if self.history.enabled() {
            self.history.record(history::Observation {
                seq: 0,
                scenario: self.scenario_id.clone(),
                identity: req.identity.clone().unwrap_or_default(),
                scopes: scopes.to_vec(),
                method: req.method.to_string(),
                path: relative_path(self.profile, &req.url),
                started_ms: sent_ms,
                ended_ms: self.history.now_ms(),
                status: resp.as_ref().ok().map(|r| r.status),
                content_type: resp.as_ref().ok().and_then(ResponseData::content_type),
                expected_5xx,
                request: req
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok()),
                response: resp.as_ref().ok().and_then(|r| r.json()),
            });
        }
        // Kept only for the API coverage, which needs the profile's document.
        if let (Ok(r), Some(_)) = (resp, &self.profile.spec.openapi_path) {
            if let Ok(mut a) = self.answered.lock() {
                a.push(coverage::Answered {
                    method: req.method.to_string(),
                    url: req.url.clone(),
                    status: r.status,
                });
            }
        }
    }

    pub(crate) fn transport_failure(sent: &Sent, message: &str) -> Failure {
        Failure {
            message: format!("{}: {message}", sent.req.line()),
            expected: Some("an HTTP response".into()),
            actual: Some(message.to_string()),
            response_excerpt: None,
            curl: Some(sent.req.curl()),
        }
    }

    pub(crate) fn record_latency(&self, spec: &RequestSpec, expect: &Expect, resp: &ResponseData) {
        if let Some(max) = expect.max_duration {
            let ms = resp.duration.as_secs_f64() * 1000.0;
            let m = Measurement {
                metric: format!(
                    "{} {} latency",
                    spec.method.as_str(),
                    named_path(&spec.path)
                ),
                value: (ms * 10.0).round() / 10.0,
                unit: "ms".into(),
                target: format!("< {}ms", max.0.as_millis()),
                passed: resp.duration <= max.0,
            };
            if let Ok(mut list) = self.measurements.lock() {
                list.push(m);
            }
        }
    }

    /// One request + expect + capture. Returns the result and whether it passed.
    pub(crate) async fn exchange(
        &self,
        r: &mut StepResult,
        spec: &RequestSpec,
        expect: Option<&Expect>,
        capture: Option<&BTreeMap<String, CaptureSpec>>,
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> Option<ResponseData> {
        let sent = match self
            .send_spec(spec, vars, identity, Expecting::of(expect))
            .await
        {
            Ok(s) => s,
            Err(f) => {
                r.outcome = Outcome::Error;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                return None;
            }
        };
        r.exchanges.extend(sent.exchanges());
        let resp = match &sent.resp {
            Ok(resp) => resp.clone(),
            Err(msg) => {
                let f = Self::transport_failure(&sent, msg);
                r.outcome = Outcome::Error;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                return None;
            }
        };
        let throttled = match sent.throttled.len() {
            0 => String::new(),
            n => format!(" (after {n} answer(s) 429 waited out)"),
        };
        r.summary = Some(format!(
            "{} in {} ms{throttled}",
            resp.status,
            resp.duration.as_millis()
        ));
        if let Some(e) = expect {
            self.record_latency(spec, e, &resp);
            if let Err(m) = check_expect(e, &resp, vars) {
                let f = sent.failure(m);
                r.outcome = Outcome::Failed;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
                return Some(resp);
            }
        }
        if let Some(c) = capture {
            if let Err(m) = apply_captures(c, &resp, vars) {
                let f = sent.failure(m);
                r.outcome = Outcome::Failed;
                r.summary = Some(f.message.clone());
                r.failure = Some(f);
            }
        }
        Some(resp)
    }

    pub(crate) async fn request_step(
        &self,
        step: &Step,
        vars: &mut Vars,
        identity: Option<&str>,
    ) -> StepResult {
        let mut r = self.new_result(step, StepKind::Request);
        if let Some(spec) = &step.request {
            self.exchange(
                &mut r,
                spec,
                step.expect.as_ref(),
                step.capture.as_ref(),
                vars,
                identity,
            )
            .await;
        }
        r
    }
}

/// `/api/v1/flows/{{ flow_id }}` → `/api/v1/flows/{flow_id}`: a path template as a report
/// names it (the request, not one run's ids).
pub(crate) fn named_path(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('{');
        out.push_str(rest[start + 2..start + len].trim());
        out.push('}');
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Each measurement prefixed with its scenario; a request measured more than once in one
/// scenario is numbered (`#2`), so no two rows of the performance table read the same.
fn labelled(scenario: &str, measurements: Vec<Measurement>) -> Vec<Measurement> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let total: BTreeMap<String, usize> = measurements.iter().fold(BTreeMap::new(), |mut acc, m| {
        *acc.entry(m.metric.clone()).or_default() += 1;
        acc
    });
    measurements
        .into_iter()
        .map(|mut m| {
            let n = seen.entry(m.metric.clone()).or_default();
            *n += 1;
            let numbered = if total.get(&m.metric).copied().unwrap_or(0) > 1 {
                format!(" #{n}")
            } else {
                String::new()
            };
            m.metric = format!("{scenario} — {}{numbered}", m.metric);
            m
        })
        .collect()
}

/// The URL relative to the profile's base URL, query kept (the whole URL when it points
/// elsewhere).
fn relative_path(profile: &Profile, url: &str) -> String {
    let query = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.query().map(str::to_string));
    match (cleanup::request_path(profile, url), query) {
        (Some(p), Some(q)) => format!("{p}?{q}"),
        (Some(p), None) => p,
        (None, _) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_named_not_raw_templates() {
        assert_eq!(
            named_path("/api/v1/flows/{{ flow_id }}"),
            "/api/v1/flows/{flow_id}"
        );
        assert_eq!(named_path("/a/{{x}}/b/{{ y }}"), "/a/{x}/b/{y}");
        assert_eq!(named_path("/plain"), "/plain");
        assert_eq!(named_path("/broken/{{ x"), "/broken/{{ x");
    }

    #[test]
    fn repeated_measurements_are_numbered_under_their_scenario() {
        let m = |metric: &str| Measurement {
            metric: metric.into(),
            value: 1.0,
            unit: "ms".into(),
            target: "< 5ms".into(),
            passed: true,
        };
        let out = labelled(
            "Latency",
            vec![
                m("GET /a latency"),
                m("GET /b latency"),
                m("GET /a latency"),
            ],
        );
        let names: Vec<&str> = out.iter().map(|m| m.metric.as_str()).collect();
        assert_eq!(
            names,
            [
                "Latency — GET /a latency #1",
                "Latency — GET /b latency",
                "Latency — GET /a latency #2"
            ]
        );
    }
}
