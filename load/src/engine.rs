//! The goose side: a [`LoadPlan`] becomes a `GooseAttack` (one goose scenario per
//! transaction, an on-start transaction that gives each user its identity), each step a
//! request made through the `GooseUser` so goose records it under the step's name.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::goose::{
    GooseRequest, GooseUser, Scenario, Transaction, TransactionError, TransactionFunction,
    TransactionResult,
};
use goose::metrics::{GooseMetrics, GooseRequestMetric};
use goose::GooseAttack;

use flowgate_harness::model::RequestSpec;
use flowgate_harness::{
    apply_captures, check_expect, header_pairs, prepare_request, PollMachine, PollStep,
    ResponseData, Vars,
};

use crate::plan::{LoadPlan, PollPlan, RequestPlan, StepAction, StepPlan, StopAfter};
use crate::recorder::{PollEnd, Recorder};

/// What each goose user keeps between transactions.
#[derive(Clone)]
struct UserSession {
    identity: Arc<str>,
}

struct Shared {
    plan: Arc<LoadPlan>,
    recorder: Arc<Recorder>,
    /// Per transaction: how many users took an identity, for the round-robin.
    next_identity: Vec<AtomicUsize>,
}

/// Why the attack could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid load phase: {0}")]
    Invalid(String),
    #[error("goose refused the load phase: {0}")]
    Goose(String),
}

/// Runs the attack; returns goose's metrics and the wall time the attack took.
pub(crate) async fn attack(
    plan: Arc<LoadPlan>,
    recorder: Arc<Recorder>,
) -> Result<(GooseMetrics, Duration), EngineError> {
    plan.validate().map_err(EngineError::Invalid)?;
    let shared = Arc::new(Shared {
        next_identity: plan
            .transactions
            .iter()
            .map(|_| AtomicUsize::new(plan.first_user))
            .collect(),
        plan: plan.clone(),
        recorder,
    });

    let mut goose =
        GooseAttack::initialize_with_config(configuration(&plan)).map_err(goose_error)?;
    for (ti, tx) in plan.transactions.iter().enumerate() {
        let mut scenario = Scenario::new(&tx.name)
            .set_weight(tx.weight)
            .map_err(goose_error)?
            .register_transaction(on_start(shared.clone(), ti).set_on_start())
            .register_transaction(body(shared.clone(), ti).set_name(&tx.name));
        if let Some((min, max)) = plan.think_time {
            scenario = scenario.set_wait_time(min, max).map_err(goose_error)?;
        }
        goose = goose.register_scenario(scenario);
    }
    let started = Instant::now();
    let metrics = {
        let _quiet = SilencedStdout::new();
        goose.execute().await
    }
    .map_err(goose_error)?;
    Ok((metrics, started.elapsed()))
}

/// The process's standard output points at /dev/null while this lives: goose prints its
/// user-launch lines with `println!` regardless of its `quiet` setting, and a load phase
/// reports through our own progress line (stderr) and result. Nothing else writes to
/// stdout while an attack runs (phases run alone). If stdout cannot be redirected (one
/// redirect at a time: a second concurrent attack), goose's lines go through.
struct SilencedStdout(Option<gag::Gag>);

impl SilencedStdout {
    fn new() -> Self {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        SilencedStdout(gag::Gag::stdout().ok())
    }
}

impl Drop for SilencedStdout {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        self.0.take();
    }
}

fn goose_error(e: goose::GooseError) -> EngineError {
    let detail = match &e {
        goose::GooseError::InvalidOption {
            option,
            value,
            detail,
        } => {
            format!("{option} = {value:?}: {detail}")
        }
        goose::GooseError::InvalidWaitTime { detail, .. }
        | goose::GooseError::InvalidWeight { detail, .. }
        | goose::GooseError::NoScenarios { detail } => detail.clone(),
        goose::GooseError::InvalidHost { host, detail, .. } => format!("{host}: {detail}"),
        other => other.to_string(),
    };
    EngineError::Goose(detail)
}

/// The goose configuration, built in code (the process's own arguments are never read):
/// no controllers, no report files, no metrics printed, warnings only.
fn configuration(plan: &LoadPlan) -> GooseConfiguration {
    let mut c = GooseConfiguration::default();
    c.host = Some(plan.profile.spec.base_url.clone());
    c.users = Some(plan.users);
    c.increase_rate = Some(format_rate(plan.increase_rate));
    match plan.stop {
        StopAfter::Duration(d) => {
            // goose counts whole seconds; a fraction rounds up.
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            c.run_time = Some(secs.max(1).to_string());
            // Keep what the ramp-up measured: our windows cover it too.
            c.no_reset_metrics = true;
        }
        StopAfter::Iterations(n) => c.iterations = Some(n),
    }
    c.throttle_requests = plan.throttle;
    // Each request carries its own timeout (step, else the profile's).
    c.quiet = 1;
    c.no_telnet = true;
    c.websocket = false;
    c.no_print_metrics = true;
    c.no_error_summary = true;
    c.no_status_codes = true;
    c
}

fn format_rate(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{}", rate as u64)
    } else {
        format!("{rate}")
    }
}

fn transaction_fn<F>(f: F) -> Transaction
where
    F: for<'r> Fn(
            &'r mut GooseUser,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = TransactionResult> + Send + 'r>,
        > + Send
        + Sync
        + 'static,
{
    let function: TransactionFunction = Arc::new(f);
    Transaction::new(function)
}

/// Gives the user its identity: round-robin over the phase's identities, counted per
/// transaction so every transaction runs as every identity.
fn on_start(shared: Arc<Shared>, ti: usize) -> Transaction {
    transaction_fn(move |user| {
        let shared = shared.clone();
        Box::pin(async move {
            let n = shared.next_identity[ti].fetch_add(1, Ordering::Relaxed);
            let ids = &shared.plan.identities;
            let identity: Arc<str> = Arc::from(ids[n % ids.len()].as_str());
            user.set_session_data(UserSession { identity });
            Ok(())
        })
    })
}

fn body(shared: Arc<Shared>, ti: usize) -> Transaction {
    transaction_fn(move |user| {
        let shared = shared.clone();
        Box::pin(async move { run_transaction(&shared, ti, user).await })
    })
}

async fn run_transaction(shared: &Shared, ti: usize, user: &mut GooseUser) -> TransactionResult {
    let plan = &shared.plan;
    let user_identity = match user.get_session_data::<UserSession>() {
        Some(s) => s.identity.clone(),
        None => Arc::from(plan.identities[0].as_str()),
    };
    let mut vars = plan.variables.clone();
    for (k, v) in &plan.scenario_variables {
        match vars.interpolate_value(v) {
            Ok(x) => vars.set(k.clone(), x),
            Err(e) => {
                let reason = format!("variable `{k}`: {e}");
                shared.recorder.failure_reason("variables", &reason);
                return Err(Box::new(TransactionError::Custom(reason)));
            }
        }
    }
    for step in &plan.transactions[ti].steps {
        if let Some(delay) = step.delay {
            tokio::time::sleep(delay).await;
        }
        let identity = step.identity.as_deref().unwrap_or(&user_identity);
        match &step.action {
            StepAction::Request(request) => {
                run_request(shared, user, identity, step, request, &mut vars).await?
            }
            StepAction::Poll(poll) => {
                run_poll(shared, user, identity, step, poll, &mut vars).await?
            }
        }
    }
    Ok(())
}

/// A request that went out: goose's record of it, and the response when one came.
struct Sent {
    metric: GooseRequestMetric,
    /// The response, or why none came (transport error).
    response: Result<ResponseData, String>,
}

async fn send(
    shared: &Shared,
    user: &mut GooseUser,
    identity: &str,
    step: &StepPlan,
    spec: &RequestSpec,
    vars: &Vars,
) -> Result<Sent, Box<TransactionError>> {
    let profile = &shared.plan.profile;
    let prepared = match prepare_request(spec, vars, profile, Some(identity)) {
        Ok(p) => p,
        Err(e) => {
            let reason = profile.masker.mask(&e.0);
            shared.recorder.failure_reason(&step.name, &reason);
            return Err(Box::new(TransactionError::Custom(format!(
                "{}: {reason}",
                step.name
            ))));
        }
    };
    let mut builder = user
        .client
        .request(prepared.method.clone(), prepared.url.as_str())
        .timeout(prepared.timeout);
    for (k, v) in &prepared.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if let Some(body) = &prepared.body {
        builder = builder.body(body.clone());
    }
    let goose_request = GooseRequest::builder()
        .name(step.name.as_str())
        .set_request_builder(builder)
        .build();
    let goose_response = user.request(goose_request).await?;
    let metric = goose_response.request;
    let duration = latency(&metric);
    let response = match goose_response.response {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers = header_pairs(response.headers());
            match response.bytes().await {
                Ok(body) => Ok(ResponseData {
                    status,
                    headers,
                    body: body.to_vec(),
                    duration,
                    final_url: None,
                }),
                Err(e) => Err(transport_message(&e)),
            }
        }
        Err(e) => Err(transport_message(&e)),
    };
    Ok(Sent { metric, response })
}

fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out waiting for the response".into()
    } else if e.is_connect() {
        "could not connect to the target".into()
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read".into()
    } else {
        "the request failed before a response arrived".into()
    }
}

/// Marks the request failed in goose (it then counts in goose's failures) and ends the
/// transaction.
fn fail(
    shared: &Shared,
    user: &mut GooseUser,
    step: &StepPlan,
    metric: &mut GooseRequestMetric,
    reason: &str,
) -> TransactionResult {
    let reason = shared.plan.profile.masker.mask(reason);
    shared.recorder.failure_reason(&step.name, &reason);
    user.set_failure(&reason, metric, None, None)
}

/// A transport error: goose already counted the request as failed.
fn transport_failure(
    shared: &Shared,
    user: &GooseUser,
    step: &StepPlan,
    metric: &GooseRequestMetric,
    reason: &str,
) {
    shared
        .recorder
        .request(user.weighted_users_index, latency(metric), false, false);
    shared.recorder.failure_reason(&step.name, reason);
}

async fn run_request(
    shared: &Shared,
    user: &mut GooseUser,
    identity: &str,
    step: &StepPlan,
    request: &RequestPlan,
    vars: &mut Vars,
) -> TransactionResult {
    let Sent {
        mut metric,
        response,
    } = send(shared, user, identity, step, &request.spec, vars).await?;
    let response = match response {
        Ok(r) => r,
        Err(reason) => {
            transport_failure(shared, user, step, &metric, &reason);
            return Err(Box::new(TransactionError::Custom(format!(
                "{}: {reason}",
                step.name
            ))));
        }
    };
    let mut verdict = match &request.expect {
        Some(expect) => check_expect(expect, &response, vars).map_err(|m| m.message),
        // No expect block: the harness takes any response; goose's default (2xx) stands.
        None => {
            if metric.success {
                Ok(())
            } else {
                Err(format!("status {}", response.status))
            }
        }
    };
    if verdict.is_ok() {
        if let Some(capture) = &request.capture {
            verdict = apply_captures(capture, &response, vars).map_err(|m| m.message);
        }
    }
    shared.recorder.request(
        user.weighted_users_index,
        response.duration,
        verdict.is_ok(),
        true,
    );
    match verdict {
        Ok(()) => {
            if !metric.success {
                // goose judged the status alone (non-2xx); the expectation held.
                user.set_success(&mut metric)?;
            }
            Ok(())
        }
        Err(reason) => fail(shared, user, step, &mut metric, &reason),
    }
}

fn latency(metric: &GooseRequestMetric) -> Duration {
    Duration::from_micros(metric.response_time_micros())
}

async fn run_poll(
    shared: &Shared,
    user: &mut GooseUser,
    identity: &str,
    step: &StepPlan,
    plan: &PollPlan,
    vars: &mut Vars,
) -> TransactionResult {
    let recorder = &shared.recorder;
    let mut machine = PollMachine::new(
        &plan.poll,
        &shared.plan.profile,
        plan.capture.as_ref(),
        plan.interval,
        plan.timeout,
    );
    recorder.poll_started(&step.name);
    loop {
        let Sent {
            mut metric,
            response,
        } = match send(shared, user, identity, step, &plan.poll.request, vars).await {
            Ok(sent) => sent,
            Err(e) => {
                recorder.poll_ended(&step.name, PollEnd::Failed);
                return Err(e);
            }
        };
        let next = match response {
            Err(reason) => {
                // Under load a refused request is a failed request: counted, and the poll
                // goes on until its timeout.
                transport_failure(shared, user, step, &metric, &reason);
                machine.transport_error(&reason)
            }
            Ok(response) => {
                let next = machine.response(&response, vars);
                let passed = match &next {
                    PollStep::Reached => true,
                    PollStep::Failed(_) | PollStep::TimedOut(_) => false,
                    // Not there yet: the request itself passes when goose says so (2xx).
                    PollStep::Again(_) => metric.success,
                };
                recorder.request(user.weighted_users_index, response.duration, passed, true);
                next
            }
        };
        match next {
            PollStep::Reached => {
                recorder.poll_ended(&step.name, PollEnd::Completed);
                if !metric.success {
                    user.set_success(&mut metric)?;
                }
                return Ok(());
            }
            PollStep::TimedOut(m) => {
                recorder.poll_ended(&step.name, PollEnd::TimedOut);
                recorder.failure_reason(&step.name, "poll timed out");
                return Err(Box::new(TransactionError::Custom(format!(
                    "{}: {}",
                    step.name, m.message
                ))));
            }
            PollStep::Failed(m) => {
                recorder.poll_ended(&step.name, PollEnd::Failed);
                return fail(shared, user, step, &mut metric, &m.message);
            }
            PollStep::Again(wait) => {
                if goose::is_killswitch_triggered() {
                    recorder.poll_ended(&step.name, PollEnd::Abandoned);
                    return Ok(());
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_format_for_goose() {
        assert_eq!(format_rate(20.0), "20");
        assert_eq!(format_rate(0.5), "0.5");
    }
}
