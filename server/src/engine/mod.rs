//! The durable flow execution engine.
//!
//! Workers (tasks inside the server process; any number of processes may share one
//! PostgreSQL) claim runnable flows with a lease and a fencing token, run the current
//! phase's handler outside any transaction while renewing the lease, and commit the
//! phase's result together with the advance to the next phase in one transaction fenced
//! by the lease (see [`lease`]). A worker killed mid-phase leaves a lease that expires;
//! another worker then runs the phase again, and only one result is ever recorded.
//!
//! Wake-ups: `wake()` from the API and, on PostgreSQL, `LISTEN flowgate_flows` (a trigger
//! notifies whenever an update makes a flow claimable, and the API announces new flows:
//! see `store::wakeups`), from any process. Without a wake-up a
//! worker sleeps until the next scheduled `runnable_at` (retry backoff) or lease expiry,
//! at most `idle_poll` (to notice flows whose lease a dead process left behind).

mod fair;
mod handoff;
mod lease;
mod metrics;
#[cfg(test)]
mod plan_tests;
pub(crate) mod port;
mod worker;

use crate::domain::catalogue::RetryPolicy;
use crate::domain::defects::{Defect, Defects};
use crate::engine::port::{EngineHooks, WorkersStatus};
use crate::phases::HandlerRegistry;
use crate::store::db::Db;
use futures::future::BoxFuture;
use metrics::EngineMetrics;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The PostgreSQL notification channel (see `store::wakeups`).
pub use crate::store::wakeups::NOTIFY_CHANNEL;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Worker tasks in this process; 0 runs no engine.
    pub workers: u32,
    /// How long a claim holds a flow without renewal. A killed process's flows are
    /// picked up by others after at most this long. Renewed every third of it.
    pub lease: Duration,
    /// Retry policy for every phase; None: the catalogue's (the original system's
    /// 3 attempts, 2 s, ×2, 30 s cap).
    pub retry_policy: Option<RetryPolicy>,
    /// Honour `configuration.simulate` (tests only).
    pub allow_simulated_faults: bool,
    /// Longest sleep without a wake-up.
    pub idle_poll: Duration,
    /// Most flows of one client account running a phase at once, across processes; 0: no
    /// cap. See [`fair`].
    pub max_running_per_tenant: u32,
}

impl EngineConfig {
    /// The default cap: all workers but one, so that one is always left for the other
    /// tenants (no cap with a single worker).
    pub fn default_tenant_cap(workers: u32) -> u32 {
        workers.saturating_sub(1)
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 4,
            lease: Duration::from_secs(30),
            retry_policy: None,
            allow_simulated_faults: false,
            idle_poll: Duration::from_secs(1),
            max_running_per_tenant: EngineConfig::default_tenant_cap(4),
        }
    }
}

/// The engine-side defects (see [`crate::domain::defects`]); inert unless named.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EngineDefects {
    /// Workers never claim a flow.
    pub stuck_flows: bool,
    /// Every second phase (odd index) is marked completed without its handler: output null.
    pub skipped_phases: bool,
    /// After the first phase, the flow's status and progress stop changing (later phases
    /// run and are recorded in events and outputs, but stay `running`; the flow never
    /// becomes `completed`).
    pub status_stops_updating: bool,
}

impl EngineDefects {
    pub(crate) fn from_defects(d: &Defects) -> Self {
        EngineDefects {
            stuck_flows: d.is_on(Defect::StuckFlows),
            skipped_phases: d.is_on(Defect::SkippedPhases),
            status_stops_updating: d.is_on(Defect::StatusStopsUpdating),
        }
    }
}

/// State shared by the workers and the handle.
pub(crate) struct Shared {
    pub db: Db,
    pub config: EngineConfig,
    pub defects: EngineDefects,
    pub registry: HandlerRegistry,
    pub wake: Notify,
    pub metrics: EngineMetrics,
    pub shutdown: CancellationToken,
    pub started: Instant,
    /// Per worker: milliseconds since `started` of its last sign of life.
    pub alive_at: Vec<AtomicU64>,
    /// Milliseconds since `started` of the last heartbeat written; 0 none yet.
    pub last_heartbeat: AtomicU64,
    pub queue_depth: AtomicI64,
    pub worker_ids: Vec<String>,
    pub fairness: fair::Fairness,
}

impl Shared {
    pub(crate) fn since_start_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn touch(&self, worker: usize) {
        if let Some(a) = self.alive_at.get(worker) {
            a.store(self.since_start_ms().max(1), Ordering::Relaxed);
        }
    }

    /// Workers that showed a sign of life recently (each idle wake-up, each lease renewal).
    pub(crate) fn alive_workers(&self) -> u32 {
        let now = self.since_start_ms();
        let window = u64::try_from(self.config.idle_poll.max(self.config.lease / 3).as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(ALIVE_WITHIN_IDLE_PERIODS);
        self.alive_at
            .iter()
            .filter(|a| {
                let t = a.load(Ordering::Relaxed);
                t > 0 && now.saturating_sub(t) <= window
            })
            .count() as u32
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.config.retry_policy.unwrap_or(RetryPolicy::ORIGINAL)
    }
}

/// A running engine. Implements [`EngineHooks`] for the API.
pub struct EngineHandle {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A worker is alive if it showed a sign of life within this many idle periods (a worker
/// running a handler signs at every lease renewal).
const ALIVE_WITHIN_IDLE_PERIODS: u64 = 5;

/// Starts `config.workers` workers, the heartbeat/gauge monitor and (PostgreSQL) the
/// notification listener. They stop when `shutdown` is cancelled or on
/// [`EngineHooks::shutdown`].
pub fn start(
    db: Db,
    config: EngineConfig,
    defects: &Defects,
    shutdown: CancellationToken,
    registry: HandlerRegistry,
) -> EngineHandle {
    // host:pid:random, so that events and heartbeats tell processes apart.
    let prefix = format!(
        "{}:{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_string()),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let worker_ids: Vec<String> = (0..config.workers)
        .map(|i| format!("{prefix}:w{i}"))
        .collect();
    let shared = Arc::new(Shared {
        db,
        defects: EngineDefects::from_defects(defects),
        registry,
        wake: Notify::new(),
        metrics: EngineMetrics::default(),
        shutdown: shutdown.child_token(),
        started: Instant::now(),
        alive_at: (0..config.workers).map(|_| AtomicU64::new(0)).collect(),
        last_heartbeat: AtomicU64::new(0),
        queue_depth: AtomicI64::new(0),
        worker_ids,
        fairness: fair::Fairness::new(config.max_running_per_tenant),
        config,
    });
    let mut tasks = Vec::new();
    if shared.config.workers > 0 {
        for i in 0..shared.config.workers as usize {
            tasks.push(tokio::spawn(worker::run(shared.clone(), i)));
        }
        tasks.push(tokio::spawn(worker::monitor(shared.clone())));
        if let Db::Postgres(pool) = &shared.db {
            tasks.push(tokio::spawn(worker::listen(shared.clone(), pool.clone())));
        }
    }
    EngineHandle {
        shared,
        tasks: Mutex::new(tasks),
    }
}

impl EngineHandle {
    /// Prometheus text of the engine's metrics.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render(&self.shared)
    }

    /// Stops the workers (a phase in progress gives its lease back) and waits for them.
    pub async fn stop(&self) {
        self.shared.shutdown.cancel();
        let tasks: Vec<JoinHandle<()>> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for t in tasks {
            let _ = t.await;
        }
        if self.shared.config.workers > 0 {
            if let Err(e) = lease::forget_workers(
                &self.shared.db,
                &self.shared.worker_ids,
                Duration::from_secs(3600),
            )
            .await
            {
                tracing::warn!(error = %e, "could not remove worker heartbeats");
            }
        }
    }

    /// The workers' state (for `/ready`).
    pub fn status(&self) -> WorkersStatus {
        let s = &self.shared;
        let now = s.since_start_ms();
        let alive = s.alive_workers();
        let hb = s.last_heartbeat.load(Ordering::Relaxed);
        WorkersStatus {
            configured: s.config.workers,
            alive,
            last_heartbeat_age_ms: (hb > 0).then(|| now.saturating_sub(hb)),
            healthy: s.config.workers == 0 || alive > 0,
        }
    }

    /// Runnable flows not yet claimed, as of the monitor's last look.
    pub fn queue_depth(&self) -> i64 {
        self.shared.queue_depth.load(Ordering::Relaxed)
    }
}

impl EngineHooks for EngineHandle {
    fn wake(&self) {
        self.shared.wake.notify_one();
    }

    fn readiness(&self) -> WorkersStatus {
        self.status()
    }

    fn metrics_text(&self) -> String {
        EngineHandle::metrics_text(self)
    }

    fn shutdown(&self) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        let tasks: Vec<JoinHandle<()>> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        Box::pin(async move {
            shared.shutdown.cancel();
            for t in tasks {
                let _ = t.await;
            }
            if shared.config.workers > 0 {
                let _ = lease::forget_workers(
                    &shared.db,
                    &shared.worker_ids,
                    Duration::from_secs(3600),
                )
                .await;
            }
        })
    }
}
