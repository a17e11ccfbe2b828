//! Engine metrics in Prometheus text format: counters kept in memory by this process,
//! gauges (flows by status, queue depth) refreshed by the monitor from the database.

use super::Shared;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub(crate) struct EngineMetrics {
    pub phases_completed: AtomicU64,
    pub phases_failed: AtomicU64,
    pub retries_scheduled: AtomicU64,
    pub results_discarded: AtomicU64,
    pub claims: AtomicU64,
    /// phase name → (count, sum of seconds).
    durations: Mutex<BTreeMap<String, (u64, f64)>>,
}

impl EngineMetrics {
    pub(crate) fn observe_duration(&self, phase: &str, ms: i64) {
        if let Ok(mut d) = self.durations.lock() {
            let e = d.entry(phase.to_string()).or_insert((0, 0.0));
            e.0 += 1;
            e.1 += ms.max(0) as f64 / 1000.0;
        }
    }

    pub(crate) fn render(&self, shared: &Shared) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        };
        counter(
            &mut out,
            "flowgate_engine_claims_total",
            "Flows claimed by this process's workers.",
            &self.claims,
        );
        counter(
            &mut out,
            "flowgate_engine_phases_completed_total",
            "Phase results committed by this process.",
            &self.phases_completed,
        );
        counter(
            &mut out,
            "flowgate_engine_phases_failed_total",
            "Phases that failed their flow (permanent error or retries exhausted).",
            &self.phases_failed,
        );
        counter(
            &mut out,
            "flowgate_engine_retries_total",
            "Phase retries scheduled after a transient error.",
            &self.retries_scheduled,
        );
        counter(&mut out, "flowgate_engine_results_discarded_total", "Phase results discarded because the lease no longer held (paused, cancelled, lease lost).", &self.results_discarded);
        let _ = writeln!(out, "# HELP flowgate_engine_phase_duration_seconds Handler run time of committed phases.\n# TYPE flowgate_engine_phase_duration_seconds summary");
        if let Ok(d) = self.durations.lock() {
            for (phase, (count, sum)) in d.iter() {
                let _ = writeln!(
                    out,
                    "flowgate_engine_phase_duration_seconds_sum{{phase=\"{phase}\"}} {sum}"
                );
                let _ = writeln!(
                    out,
                    "flowgate_engine_phase_duration_seconds_count{{phase=\"{phase}\"}} {count}"
                );
            }
        }
        // `flowgate_flows` (flows by status) is written by `/metrics` itself, from the
        // database: one family, written once (strict parsers reject a repeated family).
        let _ = writeln!(
            out,
            "# HELP flowgate_engine_queue_depth Runnable flows not yet claimed.\n# TYPE flowgate_engine_queue_depth gauge\nflowgate_engine_queue_depth {}",
            shared.queue_depth.load(Ordering::Relaxed)
        );
        let status = shared.alive_workers();
        let _ = writeln!(
            out,
            "# HELP flowgate_engine_workers Workers configured and alive in this process.\n# TYPE flowgate_engine_workers gauge\nflowgate_engine_workers{{state=\"configured\"}} {}\nflowgate_engine_workers{{state=\"alive\"}} {status}",
            shared.config.workers
        );
        out
    }
}
