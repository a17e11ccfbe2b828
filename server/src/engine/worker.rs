//! The worker loop, the monitor (heartbeats, gauges) and the PostgreSQL listener.

use super::lease::{self, ClaimOutcome, Claimed, Committed, PhaseResult};
use super::{Shared, NOTIFY_CHANNEL};
use crate::domain::SIMULATE_KEY;
use crate::phases::{ErrorKind, PhaseContext, PhaseError};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shortest idle sleep when something is due now but could not be claimed (another
/// worker is claiming it).
const MIN_IDLE: Duration = Duration::from_millis(20);
/// Pause after a database error before trying again.
const ERROR_BACKOFF: Duration = Duration::from_millis(500);

pub(crate) async fn run(shared: Arc<Shared>, index: usize) {
    let worker = shared.worker_ids[index].clone();
    tracing::debug!(worker = %worker, "engine worker started");
    while !shared.shutdown.is_cancelled() {
        shared.touch(index);
        if shared.defects.stuck_flows {
            idle(&shared, shared.config.idle_poll).await;
            continue;
        }
        match lease::claim(&shared.db, &worker, shared.config.lease, &shared.fairness).await {
            Ok(ClaimOutcome::Run(job)) => {
                shared.metrics.claims.fetch_add(1, Ordering::Relaxed);
                // The flow's next phases, as long as the commit hands them over.
                let mut next = Some(*job);
                while let Some(job) = next.take() {
                    if shared.shutdown.is_cancelled() {
                        release(&shared, &worker, &job).await;
                        break;
                    }
                    shared.touch(index);
                    next = run_phase(&shared, index, &worker, job).await;
                }
            }
            Ok(ClaimOutcome::Settled) => {}
            // Only capped tenants wait: a finishing phase or a new flow wakes a worker.
            Ok(ClaimOutcome::Capped) => idle(&shared, shared.config.idle_poll).await,
            Ok(ClaimOutcome::Idle) => {
                let wait = match lease::next_due(&shared.db).await {
                    Ok(Some(due)) => (due - chrono::Utc::now())
                        .to_std()
                        .unwrap_or(MIN_IDLE)
                        .clamp(MIN_IDLE, shared.config.idle_poll),
                    Ok(None) => shared.config.idle_poll,
                    Err(e) => {
                        tracing::warn!(worker = %worker, error = %e, "engine: reading the schedule failed");
                        shared.config.idle_poll
                    }
                };
                idle(&shared, wait).await;
            }
            Err(e) => {
                tracing::warn!(worker = %worker, error = %e, "engine: claim failed");
                idle(&shared, ERROR_BACKOFF).await;
            }
        }
    }
    tracing::debug!(worker = %worker, "engine worker stopped");
}

async fn idle(shared: &Shared, d: Duration) {
    tokio::select! {
        _ = shared.wake.notified() => {}
        _ = tokio::time::sleep(d) => {}
        _ = shared.shutdown.cancelled() => {}
    }
}

/// Simulated faults of one phase (`configuration.simulate.<phase>`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Faults {
    /// The first N starts of the phase (over the flow's life) fail transiently.
    pub fail_transient: i64,
    /// The phase fails permanently until the flow has been retried once after such a
    /// failure (so that `POST .../retry` can be shown to complete the flow).
    pub fail_permanent: bool,
    /// Each start takes this long before the handler runs.
    pub delay_ms: u64,
}

pub(crate) fn faults(configuration: &Value, phase: &str) -> Faults {
    let Some(f) = configuration.get(SIMULATE_KEY).and_then(|s| s.get(phase)) else {
        return Faults::default();
    };
    Faults {
        fail_transient: f.get("fail_transient").and_then(Value::as_i64).unwrap_or(0),
        fail_permanent: f
            .get("fail_permanent")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        delay_ms: f.get("delay_ms").and_then(Value::as_u64).unwrap_or(0),
    }
}

enum Ran {
    Done(Result<Value, PhaseError>),
    LeaseLost,
    Shutdown,
}

/// Runs the job's phase and commits its result; the next phase of the same flow when the
/// commit handed it over (see `handoff`).
async fn run_phase(shared: &Shared, index: usize, worker: &str, job: Claimed) -> Option<Claimed> {
    let started = Instant::now();
    let skip = shared.defects.skipped_phases && job.phase_index % 2 == 1;
    let ctx = PhaseContext {
        flow_id: job.flow_id,
        flow_type: job.flow_type.clone(),
        phase: job.phase.clone(),
        phase_index: job.phase_index,
        initial_data: job.initial_data.clone(),
        configuration: job.configuration.clone(),
        previous_outputs: job.previous_outputs.clone(),
        input: job.input.clone(),
        attempt: job.attempt,
    };
    let f = if shared.config.allow_simulated_faults {
        faults(&job.configuration, &job.phase)
    } else {
        Faults::default()
    };
    let handler = shared.registry.get(&job.flow_type, &job.phase);
    let work = async {
        if skip {
            return Ok(Value::Null);
        }
        if f.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
        }
        if job.starts_ever <= f.fail_transient {
            return Err(PhaseError::transient(
                "simulated_transient_fault",
                format!(
                    "simulated transient fault {} of {}",
                    job.starts_ever, f.fail_transient
                ),
            ));
        }
        if f.fail_permanent && job.failures_ever == 0 {
            return Err(PhaseError::permanent(
                "simulated_permanent_fault",
                format!("simulated permanent fault in phase {}", job.phase),
            ));
        }
        match &handler {
            Some(h) => h.run(&ctx).await,
            None => Err(PhaseError::permanent(
                "no_handler",
                format!(
                    "no handler for phase {} of flow type {}",
                    job.phase, job.flow_type
                ),
            )),
        }
    };
    tokio::pin!(work);
    let period = (shared.config.lease / 3).max(Duration::from_millis(50));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let ran = loop {
        tokio::select! {
            r = &mut work => break Ran::Done(r),
            _ = renew.tick() => {
                shared.touch(index);
                match lease::renew(&shared.db, &job, worker, shared.config.lease).await {
                    Ok(true) => {}
                    Ok(false) => break Ran::LeaseLost,
                    Err(e) => tracing::warn!(worker, error = %e, "engine: lease renewal failed"),
                }
            }
            _ = shared.shutdown.cancelled() => break Ran::Shutdown,
        }
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let outcome = match ran {
        Ran::Shutdown => {
            release(shared, worker, &job).await;
            return None;
        }
        Ran::LeaseLost => {
            discard(shared, &job).await;
            return None;
        }
        Ran::Done(Ok(output)) => PhaseResult::Completed {
            output,
            duration_ms,
            freeze_status: shared.defects.status_stops_updating && job.phase_index >= 1,
        },
        Ran::Done(Err(e)) => {
            let policy = shared.retry_policy();
            if e.kind == ErrorKind::Transient && job.attempt < policy.max_attempts {
                PhaseResult::Retry {
                    delay: policy.delay_after(job.attempt),
                    code: e.code,
                    message: e.message,
                    duration_ms,
                    max_attempts: policy.max_attempts,
                }
            } else {
                let message = if e.kind == ErrorKind::Transient {
                    format!("{} (gave up after {} attempts)", e.message, job.attempt)
                } else {
                    e.message
                };
                PhaseResult::Failed {
                    code: e.code,
                    message,
                    duration_ms,
                }
            }
        }
    };
    let kind = match &outcome {
        PhaseResult::Completed { .. } => 0,
        PhaseResult::Retry { .. } => 1,
        PhaseResult::Failed { .. } => 2,
    };
    // A commit that fails on a database error is retried a few times; the lease still
    // protects against double recording.
    let mut tries = 0;
    let committed = loop {
        match lease::commit(
            &shared.db,
            &job,
            worker,
            shared.config.lease,
            outcome.clone(),
        )
        .await
        {
            Ok(c) => break c,
            Err(e) if tries < 3 => {
                tries += 1;
                tracing::warn!(worker, error = %e, "engine: commit failed, retrying");
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
            Err(e) => {
                tracing::error!(worker, error = %e, "engine: commit failed; the lease will expire and the phase run again");
                return None;
            }
        }
    };
    let next = match committed {
        Committed::Discarded => {
            discard(shared, &job).await;
            return None;
        }
        Committed::Recorded => None,
        Committed::Next(next) => Some(*next),
    };
    match kind {
        0 => {
            shared
                .metrics
                .phases_completed
                .fetch_add(1, Ordering::Relaxed);
            shared.metrics.observe_duration(&job.phase, duration_ms);
        }
        1 => {
            shared
                .metrics
                .retries_scheduled
                .fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            shared.metrics.phases_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    next
}

/// Gives the lease back at shutdown: the phase runs again at once, here or elsewhere.
async fn release(shared: &Shared, worker: &str, job: &Claimed) {
    if let Err(e) = lease::release(&shared.db, job, worker).await {
        tracing::warn!(worker, error = %e, "engine: could not release the lease at shutdown");
    }
}

async fn discard(shared: &Shared, job: &Claimed) {
    shared
        .metrics
        .results_discarded
        .fetch_add(1, Ordering::Relaxed);
    tracing::info!(flow = %job.flow_id, phase = %job.phase, "engine: lease no longer held; result discarded");
    if let Err(e) = lease::settle_discarded(&shared.db, job).await {
        tracing::warn!(error = %e, "engine: could not settle a discarded phase");
    }
}

/// Heartbeats of live workers, gauges, and clean-up of heartbeat rows of dead processes.
pub(crate) async fn monitor(shared: Arc<Shared>) {
    let period = shared.config.idle_poll.max(Duration::from_millis(200));
    let started = chrono::Utc::now();
    let mut tick = tokio::time::interval(period);
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shared.shutdown.cancelled() => return,
        }
        let now = shared.since_start_ms();
        let window =
            u64::try_from((period * 5).max(shared.config.lease).as_millis()).unwrap_or(u64::MAX);
        let mut wrote = false;
        for (i, id) in shared.worker_ids.iter().enumerate() {
            let t = shared.alive_at[i].load(Ordering::Relaxed);
            if t > 0 && now.saturating_sub(t) <= window {
                match lease::heartbeat(&shared.db, id, started).await {
                    Ok(()) => wrote = true,
                    Err(e) => tracing::warn!(error = %e, "engine: heartbeat failed"),
                }
            }
        }
        if wrote {
            shared
                .last_heartbeat
                .store(shared.since_start_ms().max(1), Ordering::Relaxed);
        }
        match lease::gauges(&shared.db).await {
            Ok(g) => shared.queue_depth.store(g.queue_depth, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "engine: reading gauges failed"),
        }
        rounds += 1;
        if rounds.is_multiple_of(60) {
            if let Err(e) = lease::forget_workers(&shared.db, &[], Duration::from_secs(600)).await {
                tracing::warn!(error = %e, "engine: heartbeat clean-up failed");
            }
        }
    }
}

/// `LISTEN flowgate_flows`: any process's change that makes a flow runnable wakes a worker
/// here. On connection loss, reconnects after a pause (workers still poll meanwhile).
pub(crate) async fn listen(shared: Arc<Shared>, pool: sqlx::PgPool) {
    loop {
        let listener = async {
            let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
            l.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut l = tokio::select! {
            r = listener => match r {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "engine: LISTEN failed; polling only");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                        _ = shared.shutdown.cancelled() => return,
                    }
                }
            },
            _ = shared.shutdown.cancelled() => return,
        };
        loop {
            tokio::select! {
                n = l.try_recv() => match n {
                    Ok(Some(_)) => shared.wake.notify_one(),
                    // The connection dropped and was re-established: notifications may
                    // have been missed, so let a worker look.
                    Ok(None) => shared.wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "engine: notification stream failed");
                        break;
                    }
                },
                _ = shared.shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn faults_are_read_per_phase() {
        let c = json!({"simulate": {"data_import": {"fail_transient": 2, "delay_ms": 50}}});
        assert_eq!(
            faults(&c, "data_import"),
            Faults {
                fail_transient: 2,
                fail_permanent: false,
                delay_ms: 50
            }
        );
        assert_eq!(faults(&c, "field_mapping"), Faults::default());
        assert_eq!(faults(&json!({}), "x"), Faults::default());
    }
}
