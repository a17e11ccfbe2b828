//! The result of a load phase: request rows, thresholds, the time series, flow
//! completion, and where a shard sits in a scaled-out run.

use serde::{Deserialize, Serialize};

use super::{Level, Outcome, Severity};

/// One load phase, summarised from goose's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    /// Scenario id of the load scenario.
    pub id: String,
    pub name: String,
    pub severity: Severity,
    #[serde(default)]
    pub level: Level,
    pub outcome: Outcome,
    pub users: u64,
    pub duration_ms: u64,
    pub requests: Vec<RequestStats>,
    pub thresholds: Vec<ThresholdResult>,
    /// Per-second (or per-window) samples for the latency plot.
    #[serde(default)]
    pub timeseries: Vec<TimePoint>,
    /// Flows created during the load / completed within their timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows: Option<FlowCompletion>,
    /// Free-form notes (drift of p95 and memory between first and last windows, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Set when the phase ran bounded below what its scenario declares (e.g. inside
    /// `validate`): a smoke load, never "load testing complete".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<String>,
    /// What to fix when the phase fails (from its scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// The scenario's own words on what makes it fail: context, never the finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fails_when: Option<String>,
    /// Set when this is one shard of a run (`flowgate load --shard I/N`), or the merge of
    /// shards (`flowgate report merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRun>,
}

/// Where a shard's figures sit in the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRun {
    /// 0-based shard index (`JOB_COMPLETION_INDEX`); for a merge, the indexes merged.
    pub indexes: Vec<u32>,
    /// Shards in the whole run.
    pub count: u32,
    /// Wall-clock start of the phase, ms since the Unix epoch (windows align on it).
    pub started_at_ms: i64,
    /// Time-series window length, ms.
    pub window_ms: u64,
    /// The target's memory drift this shard saw, percent (merge keeps the largest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_drift_percent: Option<f64>,
    /// Flow completion per poll step (thresholds may name a step).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub flows_by_step: std::collections::BTreeMap<String, FlowCompletion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestStats {
    /// The request's name ("create flow", "GET /api/v1/flows/{id}") or "all".
    pub name: String,
    pub count: u64,
    pub failures: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub rps: f64,
    /// Every response time, when the phase ran as a shard (`flowgate load --shard`), so
    /// that `flowgate report merge` adds shards exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<crate::LatencyHistogram>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// As written: "p95 < 100ms", "error_rate < 0.1%".
    pub expression: String,
    /// The request it applies to, or None for all requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    pub observed: f64,
    pub unit: String,
    pub passed: bool,
    /// Nothing was measured (no request of that name was made, no flow was polled):
    /// `observed` means nothing and the threshold failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_samples: bool,
}

impl ThresholdResult {
    /// `12.5 ms`, `99.0 %`, or `no samples`.
    pub fn observed_text(&self) -> String {
        if self.no_samples {
            "no samples".to_string()
        } else {
            crate::render::fmt_value(self.observed, &self.unit)
        }
    }

    /// `observed 12.5 ms`, or `no samples` when nothing was measured.
    pub fn observation(&self) -> String {
        if self.no_samples {
            "no samples".to_string()
        } else {
            format!("observed {}", self.observed_text())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Seconds since the load phase started.
    pub t_s: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub errors: u64,
    /// A shard's window, in full: requests and response times (for `report merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<crate::LatencyHistogram>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowCompletion {
    pub created: u64,
    pub completed: u64,
    pub failed: u64,
    pub timed_out: u64,
}

impl FlowCompletion {
    /// Nothing polled yet.
    pub fn none() -> FlowCompletion {
        FlowCompletion {
            created: 0,
            completed: 0,
            failed: 0,
            timed_out: 0,
        }
    }

    /// Adds another count (another poll step, another shard).
    pub fn add(&mut self, other: &FlowCompletion) {
        self.created += other.created;
        self.completed += other.completed;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
    }
}
