//! The run's history: every exchange of every scenario (who sent it, what, what came
//! back, when), which the property checkers read after the run and `--history FILE`
//! writes as JSON lines. Kept only when the profile declares `properties` or a history
//! file is asked for; bounded in count.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

/// At most this many exchanges are kept (the rest are counted).
const MAX_OBSERVATIONS: usize = 200_000;

/// One exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    /// Order in which requests were sent.
    pub seq: u64,
    pub scenario: String,
    /// The identity it was sent as ("" for none).
    pub identity: String,
    /// The scopes (tenants) the request acts in: its identity's, or for headers that
    /// differ from the identity's, every scope sharing its credential (none: unknown).
    pub scopes: Vec<String>,
    pub method: String,
    /// Path and query, relative to the base URL.
    pub path: String,
    /// Milliseconds since the run started: request sent, response received.
    pub started_ms: f64,
    pub ended_ms: f64,
    /// `None`: no HTTP response (connection refused, timeout).
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The step expected a 5xx here (a fault it provoked on purpose).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expected_5xx: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

impl Observation {
    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }

    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The history being recorded.
pub(crate) struct History {
    started: Instant,
    enabled: bool,
    entries: Mutex<(Vec<Observation>, u64)>,
}

impl History {
    pub(crate) fn new(enabled: bool) -> History {
        History {
            started: Instant::now(),
            enabled,
            entries: Mutex::new((Vec::new(), 0)),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Milliseconds since the run started.
    pub(crate) fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    pub(crate) fn record(&self, mut o: Observation) {
        if !self.enabled {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.1 += 1;
        o.seq = e.1;
        if e.0.len() < MAX_OBSERVATIONS {
            e.0.push(o);
        }
    }

    /// How many exchanges were recorded so far (the last `seq` given).
    pub(crate) fn sent(&self) -> u64 {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// A copy of every kept exchange so far, in the order sent, and how many were not
    /// kept (the recording goes on).
    pub(crate) fn snapshot(&self) -> (Vec<Observation>, u64) {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = e.0.clone();
        drop(e);
        list.sort_by_key(|o| o.seq);
        let dropped = self.sent().saturating_sub(list.len() as u64);
        (list, dropped)
    }

    /// Every kept exchange in the order sent, and how many were not kept.
    pub(crate) fn take(&self) -> (Vec<Observation>, u64) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = std::mem::take(&mut e.0);
        list.sort_by_key(|o| o.seq);
        let dropped = e.1.saturating_sub(list.len() as u64);
        (list, dropped)
    }
}

/// JSON lines, one exchange per line.
pub fn to_json_lines(history: &[Observation]) -> String {
    let mut out = String::new();
    for o in history {
        if let Ok(line) = serde_json::to_string(o) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
