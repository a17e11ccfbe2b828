//! flowgate-load: load phases run on goose.
//!
//! A load scenario (the `load:` section of a scenario file) becomes a [`LoadPlan`]; its
//! steps are the harness's own request and poll steps, built, checked and captured
//! with the harness's functions. [`run_load`] runs the plan on
//! goose and fills a [`flowgate_reports::LoadResult`]: per-request statistics from
//! goose's metrics, a time series from our own per-window histograms, flow completion,
//! threshold results and notes (p95 and server memory drift).

mod early_stop;
mod engine;
mod evaluate;
mod histogram;
mod merge;
pub mod plan;
mod progress;
mod quiet_log;
mod recorder;
mod runner;
mod summary;

use std::sync::Arc;
use std::time::Duration;

use flowgate_reports::LoadResult;

pub use engine::EngineError;
pub use evaluate::ALL_REQUESTS;
pub use merge::merge_shards;
pub use plan::{LoadPlan, Overrides, Shard, StopAfter};
pub use runner::{error_result, run_scenario, GooseLoadRunner};
pub use summary::render_summary;

/// How a load phase reports while it runs.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Write a progress line to stderr (redrawn each second on a terminal, a line every
    /// 10 s otherwise).
    pub progress: bool,
    /// Stop the phase as soon as its thresholds can no longer pass (a completion rate
    /// that cannot be reached any more, or no flow completing at all), saying why.
    pub stop_early: bool,
    /// Where the target's Prometheus metrics are (for the server memory drift note);
    /// `None` uses `{base_url}/metrics`.
    pub metrics_url: Option<String>,
    /// Hand a partial result to `sink` every `every` while the phase runs (a soak's
    /// rolling report).
    pub snapshots: Option<Snapshots>,
}

/// Partial results while a phase runs: what has been measured so far, as a
/// [`LoadResult`] whose first note says it is partial.
#[derive(Clone)]
pub struct Snapshots {
    pub every: Duration,
    pub sink: Arc<dyn Fn(LoadResult) + Send + Sync>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// Runs one load phase and summarises it. An `Err` means the phase could not start
/// (invalid plan, goose refused it); a target that never answered is an `Ok` result with
/// outcome [`Outcome::Error`].
pub async fn run_load(plan: LoadPlan, options: LoadOptions) -> Result<LoadResult, EngineError> {
    quiet_log::install();
    let plan = Arc::new(plan);
    let window = plan.window.unwrap_or_else(|| default_window(plan.stop));
    let recorder = Arc::new(recorder::Recorder::new(window));
    let metrics_url = options
        .metrics_url
        .clone()
        .unwrap_or_else(|| plan.profile.url_for("/metrics"));
    let progress = options.progress.then(|| (plan.id.clone(), plan.users));
    let early_stop = if options.stop_early {
        early_stop::EarlyStop::for_plan(&plan)
    } else {
        None
    };
    let snapshots = options.snapshots.clone().map(|s| (s, plan.clone()));
    let monitor = progress::Monitor::start(
        recorder.clone(),
        progress,
        metrics_url,
        early_stop,
        snapshots,
    );
    let outcome = engine::attack(plan.clone(), recorder.clone()).await;
    if recorder.stopped_early().is_some() {
        // Ours, not a user's Ctrl-C: later phases in this process start clean.
        goose::reset_killswitch();
    }
    let memory = monitor.stop().await;
    let (metrics, wall) = outcome?;
    Ok(summary::summarise(&plan, &metrics, wall, &recorder, memory))
}

/// One window per second for runs up to a minute, then about 60 windows per run.
fn default_window(stop: StopAfter) -> Duration {
    match stop {
        StopAfter::Duration(d) if d > Duration::from_secs(60) => {
            Duration::from_secs(d.as_secs().div_ceil(60))
        }
        _ => Duration::from_secs(1),
    }
}
