//! Judging a load phase's thresholds (parsed by the harness's one threshold parser,
//! [`flowgate_harness::spec::threshold`]) against what the phase measured.

use flowgate_harness::spec::threshold::{Latency, Metric, Threshold};
use flowgate_reports::{FlowCompletion, RequestStats, ThresholdResult};

/// The name of the row that aggregates every request.
pub const ALL_REQUESTS: &str = "all";

/// Everything a threshold can be judged against, after the phase ran.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    /// Per-request rows, including the [`ALL_REQUESTS`] row.
    pub requests: &'a [RequestStats],
    /// Flow completion over every poll step.
    pub flows: Option<&'a FlowCompletion>,
    /// Flow completion per poll step name.
    pub flows_by_step: &'a [(String, FlowCompletion)],
    /// p90 per request name (not a column of the report model).
    pub p90_by_request: &'a [(String, f64)],
    /// The target's resident memory change over the phase, in percent of the first
    /// sample (`None`: the target exposes no `process_resident_memory_bytes`).
    pub memory_drift: Option<f64>,
}

/// Completion rate in percent: completed / created.
pub fn completion_rate(flows: &FlowCompletion) -> Option<f64> {
    (flows.created > 0).then(|| flows.completed as f64 * 100.0 / flows.created as f64)
}

/// Judges every threshold. A rule whose metric measured nothing (no request with that
/// name was made, no flow was polled) fails with `no_samples`: nothing measured is never
/// a pass.
pub fn evaluate(thresholds: &[Threshold], observed: &Observed<'_>) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let value = observe(t, observed);
            ThresholdResult {
                expression: t.expression.clone(),
                request: t.request.clone(),
                observed: value.map(round3).unwrap_or(0.0),
                unit: t.metric.unit().to_string(),
                passed: value.is_some_and(|v| t.op.holds(v, t.limit)),
                no_samples: value.is_none(),
            }
        })
        .collect()
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn observe(t: &Threshold, observed: &Observed<'_>) -> Option<f64> {
    if t.metric == Metric::MemoryDrift {
        return observed.memory_drift;
    }
    if t.metric == Metric::FlowCompletionRate {
        let flows = match &t.request {
            None => observed.flows,
            Some(name) => observed
                .flows_by_step
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, f)| f),
        };
        return flows.and_then(completion_rate);
    }
    let name = t.request.as_deref().unwrap_or(ALL_REQUESTS);
    let row = observed.requests.iter().find(|r| r.name == name);
    if t.metric == Metric::Requests {
        return Some(row.map(|r| r.count as f64).unwrap_or(0.0));
    }
    let row = row.filter(|r| r.count > 0)?;
    Some(match t.metric {
        Metric::Latency(Latency::P50) => row.p50_ms,
        Metric::Latency(Latency::P90) => observed
            .p90_by_request
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)?,
        Metric::Latency(Latency::P95) => row.p95_ms,
        Metric::Latency(Latency::P99) => row.p99_ms,
        Metric::Latency(Latency::Mean) => row.mean_ms,
        Metric::Latency(Latency::Max) => row.max_ms,
        Metric::ErrorRate => row.failures as f64 * 100.0 / row.count as f64,
        Metric::Rps => row.rps,
        Metric::FlowCompletionRate | Metric::Requests | Metric::MemoryDrift => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_harness::spec::threshold::validate_thresholds;

    fn row(name: &str, count: u64, failures: u64, p95: f64) -> RequestStats {
        RequestStats {
            name: name.into(),
            count,
            failures,
            mean_ms: p95 / 2.0,
            p50_ms: p95 / 2.0,
            p95_ms: p95,
            p99_ms: p95 * 1.5,
            max_ms: p95 * 2.0,
            rps: count as f64 / 10.0,
            histogram: None,
        }
    }

    #[test]
    fn evaluation_passes_and_fails() {
        let rows = vec![
            row("create flow", 100, 1, 120.0),
            row(ALL_REQUESTS, 400, 2, 80.0),
        ];
        let flows = FlowCompletion {
            created: 10,
            completed: 9,
            failed: 1,
            timed_out: 0,
        };
        let by_step = vec![("wait".to_string(), flows.clone())];
        let p90 = vec![(ALL_REQUESTS.to_string(), 70.0)];
        let observed = Observed {
            requests: &rows,
            flows: Some(&flows),
            flows_by_step: &by_step,
            p90_by_request: &p90,
            memory_drift: None,
        };
        let ts = validate_thresholds(
            &[
                "p95 < 100ms",                       // 80 → pass
                "create flow: p95 < 100ms",          // 120 → fail
                "error_rate < 1%",                   // 0.5 → pass
                "create flow: error_rate < 1%",      // 1.0 → fail
                "rps >= 40",                         // 40 → pass
                "requests >= 500",                   // 400 → fail
                "flow_completion_rate >= 100%",      // 90 → fail
                "wait: flow_completion_rate >= 90%", // pass
                "p90 < 71ms",                        // pass
                "mean <= 40ms",                      // pass
                "max < 160ms",                       // 160 → fail
                "p99 > 100ms",                       // 120 → pass
            ],
            &["create flow", "wait"],
        )
        .unwrap();
        let results = evaluate(&ts, &observed);
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(
            passed,
            [true, false, true, false, true, false, false, true, true, true, false, true]
        );
        assert_eq!(results[2].observed, 0.5);
        assert_eq!(results[2].unit, "%");
        assert_eq!(results[6].observed, 90.0);
        assert_eq!(results[1].request.as_deref(), Some("create flow"));
    }

    #[test]
    fn nothing_measured_never_passes() {
        let observed = Observed::default();
        let ts = validate_thresholds(
            &[
                "p95 < 1s",
                "error_rate < 1%",
                "flow_completion_rate >= 0%",
                "requests >= 0",
            ],
            &[],
        )
        .unwrap();
        let results = evaluate(&ts, &observed);
        assert_eq!(
            results.iter().map(|r| r.passed).collect::<Vec<_>>(),
            [false, false, false, true]
        );
    }
}
