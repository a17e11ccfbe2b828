//! What the transactions record themselves while goose runs: per-window latency
//! histograms (goose has no per-second percentiles), live counters for the progress line,
//! flow completion per poll step, and the most frequent failure reasons.
//!
//! Users write to one of a few mutex-guarded shards picked by user index, so two users
//! rarely contend; memory is bounded by the number of windows, not of requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flowgate_reports::FlowCompletion;

use crate::histogram::Histogram;

const SHARDS: usize = 16;
/// Distinct failure reasons kept (the rest are counted under the last one seen).
const MAX_REASONS: usize = 50;

#[derive(Debug, Default, Clone)]
pub(crate) struct WindowAgg {
    pub(crate) latency: Histogram,
    pub(crate) requests: u64,
    pub(crate) errors: u64,
}

#[derive(Default)]
struct Shard {
    windows: BTreeMap<u64, WindowAgg>,
}

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollEnd {
    Completed,
    Failed,
    TimedOut,
    /// The run was cancelled (Ctrl-C) while the poll waited: not counted.
    Abandoned,
}

pub(crate) struct Recorder {
    started: Instant,
    /// The same moment on the wall clock (shards align their windows on it).
    started_wall: std::time::SystemTime,
    window: Duration,
    shards: Vec<Mutex<Shard>>,
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// Requests that got an HTTP response (any status).
    pub(crate) responses: AtomicU64,
    flows: Mutex<BTreeMap<String, FlowCompletion>>,
    reasons: Mutex<HashMap<String, u64>>,
    /// Why the phase was stopped before its end, when it was.
    stopped_early: Mutex<Option<String>>,
}

impl Recorder {
    pub(crate) fn new(window: Duration) -> Self {
        Recorder {
            started: Instant::now(),
            started_wall: std::time::SystemTime::now(),
            window: window.max(Duration::from_millis(100)),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            flows: Mutex::new(BTreeMap::new()),
            reasons: Mutex::new(HashMap::new()),
            stopped_early: Mutex::new(None),
        }
    }

    /// Records why the phase stops early; the first reason wins.
    pub(crate) fn stop_early(&self, reason: String) {
        let mut r = self.stopped_early.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert(reason);
    }

    pub(crate) fn stopped_early(&self) -> Option<String> {
        self.stopped_early
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wall-clock start, ms since the Unix epoch.
    pub(crate) fn started_at_ms(&self) -> i64 {
        self.started_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    /// One request: when it started (now minus its latency), how long, whether it passed.
    pub(crate) fn request(&self, user: usize, latency: Duration, ok: bool, got_response: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if got_response {
            self.responses.fetch_add(1, Ordering::Relaxed);
        }
        let at = self.started.elapsed().saturating_sub(latency);
        let index = (at.as_millis() / self.window.as_millis().max(1)) as u64;
        let shard = &self.shards[user % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let w = shard.windows.entry(index).or_default();
        w.latency.record(latency.as_micros() as u64);
        w.requests += 1;
        if !ok {
            w.errors += 1;
        }
    }

    pub(crate) fn failure_reason(&self, step: &str, reason: &str) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{step}: {reason}");
        if reasons.len() < MAX_REASONS || reasons.contains_key(&key) {
            *reasons.entry(key).or_insert(0) += 1;
        }
    }

    pub(crate) fn poll_started(&self, step: &str) {
        let mut flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        flows
            .entry(step.to_string())
            .or_insert_with(empty_flows)
            .created += 1;
    }

    pub(crate) fn poll_ended(&self, step: &str, end: PollEnd) {
        let mut flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        let f = flows.entry(step.to_string()).or_insert_with(empty_flows);
        match end {
            PollEnd::Completed => f.completed += 1,
            PollEnd::Failed => f.failed += 1,
            PollEnd::TimedOut => f.timed_out += 1,
            PollEnd::Abandoned => f.created = f.created.saturating_sub(1),
        }
    }

    /// Every window, merged over the shards, in time order.
    pub(crate) fn windows(&self) -> BTreeMap<u64, WindowAgg> {
        let mut out: BTreeMap<u64, WindowAgg> = BTreeMap::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (i, w) in &shard.windows {
                let o = out.entry(*i).or_default();
                o.latency.merge(&w.latency);
                o.requests += w.requests;
                o.errors += w.errors;
            }
        }
        out
    }

    pub(crate) fn flows(&self) -> Vec<(String, FlowCompletion)> {
        let flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        flows.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The most frequent failure reasons, most frequent first.
    pub(crate) fn top_reasons(&self, n: usize) -> Vec<(String, u64)> {
        let reasons = self.reasons.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(String, u64)> = reasons.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

fn empty_flows() -> FlowCompletion {
    FlowCompletion::none()
}
