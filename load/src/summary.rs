//! goose's metrics and our own recordings, into the run-result model; and the console
//! summary of a load result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use flowgate_reports::{FlowCompletion, LoadResult, Outcome, RequestStats, ShardRun, TimePoint};
use goose::metrics::GooseMetrics;

use crate::evaluate::{self, completion_rate, Observed, ALL_REQUESTS};
use crate::histogram::Histogram;
use crate::plan::{LoadPlan, StepAction};
use crate::progress::MemorySamples;
use crate::recorder::Recorder;

#[derive(Default)]
struct Row {
    latency: Histogram,
    success: u64,
    failures: u64,
}

pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn stats(name: &str, row: &Row, wall_s: f64) -> RequestStats {
    request_stats(
        name,
        &row.latency,
        row.success + row.failures,
        row.failures,
        wall_s,
    )
}

/// A request row from its histogram (also how `report merge` recomputes merged rows).
pub(crate) fn request_stats(
    name: &str,
    latency: &Histogram,
    count: u64,
    failures: u64,
    wall_s: f64,
) -> RequestStats {
    RequestStats {
        name: name.to_string(),
        count,
        failures,
        mean_ms: round2(latency.mean_ms()),
        p50_ms: round2(latency.quantile_ms(0.50)),
        p95_ms: round2(latency.quantile_ms(0.95)),
        p99_ms: round2(latency.quantile_ms(0.99)),
        max_ms: round2(latency.max_ms()),
        rps: round2(count as f64 / wall_s.max(1e-3)),
        histogram: None,
    }
}

pub(crate) fn summarise(
    plan: &LoadPlan,
    metrics: &GooseMetrics,
    wall: Duration,
    recorder: &Recorder,
    memory: MemorySamples,
) -> LoadResult {
    let wall_s = wall.as_secs_f64().max(1e-3);
    // goose keys requests by "METHOD name"; a step name may be used with two methods.
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for aggregate in metrics.requests.values() {
        let row = rows.entry(aggregate.path.clone()).or_default();
        crate::histogram::add_goose(&mut row.latency, &aggregate.raw_data);
        row.success += aggregate.success_count as u64;
        row.failures += aggregate.fail_count as u64;
    }
    let mut all = Row::default();
    for row in rows.values() {
        all.latency.merge(&row.latency);
        all.success += row.success;
        all.failures += row.failures;
    }
    let mut order: Vec<String> = plan.step_names().iter().map(|s| s.to_string()).collect();
    for name in rows.keys() {
        if !order.contains(name) {
            order.push(name.clone());
        }
    }
    let mut requests: Vec<RequestStats> = Vec::new();
    let mut p90: Vec<(String, f64)> = Vec::new();
    let sharded = plan.shard.is_some();
    let keep = |mut r: RequestStats, row: &Row| {
        if sharded {
            r.histogram = Some(row.latency.clone());
        }
        r
    };
    for name in &order {
        if let Some(row) = rows.get(name) {
            requests.push(keep(stats(name, row, wall_s), row));
            p90.push((name.clone(), round2(row.latency.quantile_ms(0.90))));
        }
    }
    requests.push(keep(stats(ALL_REQUESTS, &all, wall_s), &all));
    p90.push((ALL_REQUESTS.into(), round2(all.latency.quantile_ms(0.90))));

    // Flow completion, per poll step and over all of them.
    let has_polls = plan
        .transactions
        .iter()
        .flat_map(|t| &t.steps)
        .any(|s| matches!(s.action, StepAction::Poll(_)));
    let flows_by_step = recorder.flows();
    let flows = has_polls.then(|| {
        flows_by_step
            .iter()
            .fold(FlowCompletion::none(), |mut acc, (_, f)| {
                acc.add(f);
                acc
            })
    });

    let timeseries = timeseries(recorder, wall, sharded);
    let threshold_results = evaluate::evaluate(
        &plan.thresholds,
        &Observed {
            requests: &requests,
            flows: flows.as_ref(),
            flows_by_step: &flows_by_step,
            p90_by_request: &p90,
            memory_drift: memory_drift(&memory),
        },
    );
    let shard = plan.shard.map(|s| ShardRun {
        indexes: vec![u32::try_from(s.index).unwrap_or(u32::MAX)],
        count: u32::try_from(s.count).unwrap_or(u32::MAX),
        started_at_ms: recorder.started_at_ms(),
        window_ms: u64::try_from(recorder.window().as_millis()).unwrap_or(u64::MAX),
        memory_drift_percent: memory_drift(&memory),
        flows_by_step: flows_by_step.iter().cloned().collect(),
    });

    let sent = recorder.requests.load(Ordering::Relaxed);
    let answered = recorder.responses.load(Ordering::Relaxed);
    let unreachable = answered == 0;
    let outcome = if unreachable {
        Outcome::Error
    } else if threshold_results.iter().any(|t| !t.passed) {
        Outcome::Failed
    } else {
        Outcome::Passed
    };

    let mut notes = Vec::new();
    if unreachable {
        let why = recorder
            .top_reasons(1)
            .into_iter()
            .next()
            .map(|(r, _)| format!(" ({r})"))
            .unwrap_or_default();
        notes.push(format!(
            "the target never answered: {sent} requests, no response{why}"
        ));
    }
    if plan.thresholds.is_empty() {
        notes.push("no thresholds: nothing but reachability decides this phase".into());
    }
    if let Some(note) = p95_drift(&timeseries, recorder.window(), wall) {
        notes.push(note);
    }
    if let Some(reason) = recorder.stopped_early() {
        notes.insert(0, format!("stopped early: {reason}"));
    }
    notes.push(memory_note(&memory));
    if let Some(f) = &flows {
        if let Some(rate) = completion_rate(f) {
            notes.push(format!(
                "flow completion {:.1}%: {} polled, {} completed, {} failed, {} timed out",
                rate, f.created, f.completed, f.failed, f.timed_out
            ));
        }
    }
    for (reason, count) in recorder.top_reasons(5) {
        notes.push(format!("failure ×{count}: {reason}"));
    }

    LoadResult {
        id: plan.id.clone(),
        name: plan.name.clone(),
        severity: plan.severity,
        level: Default::default(),
        outcome,
        users: plan.users as u64,
        duration_ms: wall.as_millis() as u64,
        requests,
        thresholds: threshold_results,
        timeseries,
        flows,
        notes,
        smoke: plan.smoke.clone(),
        remediation: None,
        fails_when: None,
        shard,
    }
}

/// What a running phase has measured so far (a soak's rolling report): every request in
/// one row, the windows so far, flow completion, memory drift so far, and the thresholds
/// over all requests judged on it; per-request rows and thresholds come at the end.
pub(crate) fn partial(plan: &LoadPlan, recorder: &Recorder, memory: &MemorySamples) -> LoadResult {
    let elapsed = recorder.started().elapsed();
    let mut all = Histogram::default();
    for w in recorder.windows().values() {
        all.merge(&w.latency);
    }
    let count = recorder.requests.load(Ordering::Relaxed);
    let failures = recorder.errors.load(Ordering::Relaxed);
    let requests = vec![request_stats(
        ALL_REQUESTS,
        &all,
        count,
        failures,
        elapsed.as_secs_f64(),
    )];
    let flows_by_step = recorder.flows();
    let flows = (!flows_by_step.is_empty()).then(|| {
        flows_by_step
            .iter()
            .fold(FlowCompletion::none(), |mut acc, (_, f)| {
                acc.add(f);
                acc
            })
    });
    let overall: Vec<_> = plan
        .thresholds
        .iter()
        .filter(|t| t.request.is_none())
        .cloned()
        .collect();
    let p90 = [(ALL_REQUESTS.to_string(), round2(all.quantile_ms(0.90)))];
    let thresholds = evaluate::evaluate(
        &overall,
        &Observed {
            requests: &requests,
            flows: flows.as_ref(),
            flows_by_step: &flows_by_step,
            p90_by_request: &p90,
            memory_drift: memory_drift(memory),
        },
    );
    let outcome = if thresholds.iter().any(|t| !t.passed) {
        Outcome::Failed
    } else {
        Outcome::Passed
    };
    let planned = match plan.stop {
        crate::plan::StopAfter::Duration(d) => {
            format!(
                " of {}",
                humantime::format_duration(Duration::from_secs(d.as_secs()))
            )
        }
        crate::plan::StopAfter::Iterations(_) => String::new(),
    };
    LoadResult {
        id: plan.id.clone(),
        name: plan.name.clone(),
        severity: plan.severity,
        level: Default::default(),
        outcome,
        users: plan.users as u64,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        requests,
        thresholds,
        timeseries: timeseries(recorder, elapsed, false),
        flows,
        notes: vec![
            format!(
                "PARTIAL: {}{planned} measured so far; the run has not ended (thresholds on one request are judged at the end)",
                humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
            ),
            memory_note(memory),
        ],
        smoke: plan.smoke.clone(),
        remediation: None,
        fails_when: None,
        shard: None,
    }
}

fn timeseries(recorder: &Recorder, wall: Duration, keep_histograms: bool) -> Vec<TimePoint> {
    let window = recorder.window().as_secs_f64();
    let end = wall.as_secs_f64();
    recorder
        .windows()
        .into_iter()
        .map(|(index, w)| {
            let t = index as f64 * window;
            // The last window may be cut short by the end of the run.
            let span = (end - t).clamp(window.min(1e-3), window);
            TimePoint {
                t_s: round2(t),
                rps: round2(w.requests as f64 / span),
                p50_ms: round2(w.latency.quantile_ms(0.50)),
                p95_ms: round2(w.latency.quantile_ms(0.95)),
                errors: w.errors,
                requests: keep_histograms.then_some(w.requests),
                histogram: keep_histograms.then(|| w.latency.clone()),
            }
        })
        .collect()
}

/// p95 of the first window against the last full one.
fn p95_drift(points: &[TimePoint], window: Duration, wall: Duration) -> Option<String> {
    let mut full: Vec<&TimePoint> = points.iter().collect();
    // Drop the last window when the run ended inside it (and enough remain).
    if full.len() >= 3 {
        if let Some(last) = full.last() {
            if last.t_s + window.as_secs_f64() > wall.as_secs_f64() + 1e-6 {
                full.pop();
            }
        }
    }
    if full.len() < 2 {
        return Some("p95 drift: not measured (fewer than two windows)".into());
    }
    let first = full.first()?;
    let last = full.last()?;
    let change = if first.p95_ms > 0.0 {
        format!(
            " ({:+.1}%)",
            (last.p95_ms - first.p95_ms) * 100.0 / first.p95_ms
        )
    } else {
        String::new()
    };
    Some(format!(
        "p95 drift: {:.2} ms in the first window (t={}s) → {:.2} ms in the last (t={}s){change}",
        first.p95_ms, first.t_s, last.p95_ms, last.t_s
    ))
}

/// The samples drift is judged on: from the end of the first window on, when there are
/// enough (the sample taken before any load measures a cold start, not a leak).
fn drift_samples(memory: &MemorySamples) -> &[(f64, f64)] {
    if memory.samples.len() >= 3 {
        &memory.samples[1..]
    } else {
        &memory.samples
    }
}

/// First-window to last sample, in percent of the first (needs two samples).
fn memory_drift(memory: &MemorySamples) -> Option<f64> {
    let samples = drift_samples(memory);
    match (samples.first(), samples.last()) {
        (Some(first), Some(last)) if samples.len() >= 2 && first.1 > 0.0 => {
            Some((last.1 - first.1) * 100.0 / first.1)
        }
        _ => None,
    }
}

fn memory_note(memory: &MemorySamples) -> String {
    let samples = drift_samples(memory);
    let mib = |b: f64| b / (1024.0 * 1024.0);
    match (samples.first(), samples.last()) {
        (Some(first), Some(last)) if samples.len() >= 2 => {
            let change = if first.1 > 0.0 {
                format!(" ({:+.1}%)", (last.1 - first.1) * 100.0 / first.1)
            } else {
                String::new()
            };
            let cold = match memory.samples.first() {
                Some(start) if samples.len() < memory.samples.len() => {
                    format!("; {:.1} MiB before the load", mib(start.1))
                }
                _ => String::new(),
            };
            format!(
                "server memory drift: {:.1} MiB at t={:.0}s → {:.1} MiB at t={:.0}s{change}{cold}",
                mib(first.1),
                first.0,
                mib(last.1),
                last.0
            )
        }
        _ => "server memory not exposed (no process_resident_memory_bytes at /metrics)".into(),
    }
}

/// The console summary of a load result: the request table, flow completion,
/// thresholds and notes.
pub fn render_summary(result: &LoadResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Load phase `{}`: {} ({} users, {:.1} s)",
        result.name,
        result.outcome.as_str().to_uppercase(),
        result.users,
        result.duration_ms as f64 / 1000.0
    );
    let width = result
        .requests
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "request", "count", "fail", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s"
    );
    for r in &result.requests {
        let _ = writeln!(
            out,
            "  {:<width$}  {:>8} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            r.name, r.count, r.failures, r.mean_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms, r.rps
        );
    }
    if let Some(f) = &result.flows {
        let rate = completion_rate(f)
            .map(|r| format!("{r:.1}%"))
            .unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            out,
            "  flows: {} polled, {} completed, {} failed, {} timed out — completion {rate}",
            f.created, f.completed, f.failed, f.timed_out
        );
    }
    if !result.thresholds.is_empty() {
        let _ = writeln!(out, "  thresholds:");
        for t in &result.thresholds {
            let _ = writeln!(
                out,
                "    {}  {:<40} {}",
                if t.passed { "PASS" } else { "FAIL" },
                t.expression,
                t.observation()
            );
        }
    }
    for n in &result.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}
