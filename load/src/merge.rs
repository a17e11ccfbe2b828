//! `flowgate report merge`: shards of one load phase (`flowgate load --shard I/N`) into
//! the result one process would have written. Exact where it can be: request counts and
//! failures add up, latency rows come from the sum of the shards' histograms (the same
//! histogram one process would have filled, so merged quantiles are within
//! [`flowgate_reports::MAX_RELATIVE_ERROR`] of the true ones), time-series windows are
//! aligned on the wall clock and their histograms added, flow completion adds up per poll
//! step. The phase's thresholds are then judged again on the merged figures.

use std::collections::BTreeMap;

use flowgate_harness::spec::threshold::parse_threshold;
use flowgate_reports::{
    FlowCompletion, LatencyHistogram, LoadResult, Outcome, RequestStats, ShardRun, TimePoint,
};

use crate::evaluate::{self, completion_rate, Observed, ALL_REQUESTS};
use crate::summary::{request_stats, round2};

/// Merges every shard of one phase. Errors say why the shards cannot be merged exactly
/// (a shard missing or given twice, different phases, a result without histograms).
pub fn merge_shards(parts: &[LoadResult]) -> Result<LoadResult, String> {
    let first = parts.first().ok_or("no shard results to merge")?;
    let shard_of = |r: &LoadResult| -> Result<ShardRun, String> {
        r.shard.clone().ok_or_else(|| {
            format!(
                "`{}` is not a shard result (run `flowgate load --shard I/N`)",
                r.id
            )
        })
    };
    let head = shard_of(first)?;
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for r in parts {
        let s = shard_of(r)?;
        if r.id != first.id {
            return Err(format!(
                "shards of different phases: `{}` and `{}`",
                first.id, r.id
            ));
        }
        if s.count != head.count {
            return Err(format!(
                "`{}`: shards of runs split {} and {} ways",
                r.id, head.count, s.count
            ));
        }
        if s.window_ms != head.window_ms {
            return Err(format!(
                "`{}`: windows of {} ms and {} ms cannot be aligned",
                r.id, head.window_ms, s.window_ms
            ));
        }
        for i in s.indexes {
            *seen.entry(i).or_insert(0) += 1;
        }
    }
    let twice: Vec<String> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| format!("{i}/{}", head.count))
        .collect();
    if !twice.is_empty() {
        return Err(format!(
            "`{}`: shard {} given more than once",
            first.id,
            twice.join(", ")
        ));
    }
    let missing: Vec<String> = (0..head.count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{}", head.count))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "`{}`: shard {} missing: a merge without every shard is not the run",
            first.id,
            missing.join(", ")
        ));
    }

    let start_ms = parts
        .iter()
        .filter_map(|r| r.shard.as_ref().map(|s| s.started_at_ms))
        .min()
        .unwrap_or(0);
    let end_ms = parts
        .iter()
        .filter_map(|r| {
            r.shard
                .as_ref()
                .map(|s| s.started_at_ms + i64::try_from(r.duration_ms).unwrap_or(i64::MAX))
        })
        .max()
        .unwrap_or(start_ms);
    let latest_start = parts
        .iter()
        .filter_map(|r| r.shard.as_ref().map(|s| s.started_at_ms))
        .max()
        .unwrap_or(start_ms);
    let wall_s = ((end_ms - start_ms).max(1) as f64) / 1000.0;

    // Request rows, in the first shard's order, then any others.
    let mut order: Vec<String> = Vec::new();
    let mut rows: BTreeMap<String, (LatencyHistogram, u64, u64)> = BTreeMap::new();
    for r in parts {
        for row in &r.requests {
            let h = row.histogram.as_ref().ok_or_else(|| {
                format!(
                    "`{}`: request row `{}` has no histogram (written by an older flowgate?)",
                    r.id, row.name
                )
            })?;
            if !order.contains(&row.name) {
                order.push(row.name.clone());
            }
            let acc = rows.entry(row.name.clone()).or_default();
            acc.0.merge(h);
            acc.1 += row.count;
            acc.2 += row.failures;
        }
    }
    // "all" last, as one process writes it.
    order.retain(|n| n != ALL_REQUESTS);
    if rows.contains_key(ALL_REQUESTS) {
        order.push(ALL_REQUESTS.to_string());
    }
    let mut requests: Vec<RequestStats> = Vec::new();
    let mut p90: Vec<(String, f64)> = Vec::new();
    for name in &order {
        if let Some((h, count, failures)) = rows.get(name) {
            let mut stats = request_stats(name, h, *count, *failures, wall_s);
            stats.histogram = Some(h.clone());
            requests.push(stats);
            p90.push((name.clone(), round2(h.quantile_ms(0.90))));
        }
    }

    let timeseries = merge_windows(parts, start_ms, head.window_ms)?;

    let mut flows_by_step: BTreeMap<String, FlowCompletion> = BTreeMap::new();
    let mut flows: Option<FlowCompletion> = None;
    for r in parts {
        if let Some(f) = &r.flows {
            flows.get_or_insert_with(FlowCompletion::none).add(f);
        }
        if let Some(s) = &r.shard {
            for (step, f) in &s.flows_by_step {
                flows_by_step
                    .entry(step.clone())
                    .or_insert_with(FlowCompletion::none)
                    .add(f);
            }
        }
    }
    let by_step: Vec<(String, FlowCompletion)> = flows_by_step.clone().into_iter().collect();
    let memory_drift = parts
        .iter()
        .filter_map(|r| r.shard.as_ref().and_then(|s| s.memory_drift_percent))
        .max_by(|a, b| a.abs().total_cmp(&b.abs()));

    let thresholds = first
        .thresholds
        .iter()
        .enumerate()
        .map(|(i, t)| parse_threshold(&t.expression, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "`{}`: threshold `{}`: {}",
                first.id, e.expression, e.message
            )
        })?;
    let judged = evaluate::evaluate(
        &thresholds,
        &Observed {
            requests: &requests,
            flows: flows.as_ref(),
            flows_by_step: &by_step,
            p90_by_request: &p90,
            memory_drift,
        },
    );
    let outcome = if parts.iter().any(|r| r.outcome == Outcome::Error) {
        Outcome::Error
    } else if judged.iter().any(|t| !t.passed) {
        Outcome::Failed
    } else {
        Outcome::Passed
    };

    let mut notes = vec![format!(
        "merged from {} shards: starts {} ms apart (windows of {} ms aligned on the wall clock)",
        head.count,
        latest_start - start_ms,
        head.window_ms
    )];
    if latest_start - start_ms > i64::try_from(head.window_ms).unwrap_or(i64::MAX) {
        notes.push(format!(
            "shards started more than one window apart ({} ms): start them with --start-at \
             and synchronised clocks, or the merged ramp-up and per-window figures mislead",
            latest_start - start_ms
        ));
    }
    for r in parts {
        let index = r
            .shard
            .as_ref()
            .map(|s| {
                s.indexes
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        for n in r.notes.iter().filter(|n| {
            n.starts_with("stopped early") || n.starts_with("the target never answered")
        }) {
            notes.push(format!("shard {index}/{}: {n}", head.count));
        }
    }
    if let Some(d) = memory_drift {
        notes.push(format!(
            "server memory drift: {d:+.1}% (the largest any shard saw)"
        ));
    }
    if let Some(f) = &flows {
        if let Some(rate) = completion_rate(f) {
            notes.push(format!(
                "flow completion {:.1}%: {} polled, {} completed, {} failed, {} timed out",
                rate, f.created, f.completed, f.failed, f.timed_out
            ));
        }
    }

    let mut indexes: Vec<u32> = seen.keys().copied().collect();
    indexes.sort_unstable();
    Ok(LoadResult {
        id: first.id.clone(),
        name: first.name.clone(),
        severity: first.severity,
        level: first.level,
        outcome,
        users: parts.iter().map(|r| r.users).sum(),
        duration_ms: u64::try_from(end_ms - start_ms).unwrap_or(0),
        requests,
        thresholds: judged,
        timeseries,
        flows,
        notes,
        smoke: parts.iter().find_map(|r| r.smoke.clone()),
        remediation: first.remediation.clone(),
        fails_when: first.fails_when.clone(),
        shard: Some(ShardRun {
            indexes,
            count: head.count,
            started_at_ms: start_ms,
            window_ms: head.window_ms,
            memory_drift_percent: memory_drift,
            flows_by_step,
        }),
    })
}

/// Each shard window lands in the merged window that holds its wall-clock start.
fn merge_windows(
    parts: &[LoadResult],
    start_ms: i64,
    window_ms: u64,
) -> Result<Vec<TimePoint>, String> {
    let window = i64::try_from(window_ms.max(1)).unwrap_or(i64::MAX);
    let mut merged: BTreeMap<i64, (LatencyHistogram, u64, u64)> = BTreeMap::new();
    for r in parts {
        let shard_start = r.shard.as_ref().map_or(start_ms, |s| s.started_at_ms);
        for p in &r.timeseries {
            let (Some(h), Some(requests)) = (&p.histogram, p.requests) else {
                return Err(format!(
                    "`{}`: time-series window at {} s has no histogram",
                    r.id, p.t_s
                ));
            };
            let at = shard_start + (p.t_s * 1000.0).round() as i64;
            let index = (at - start_ms).div_euclid(window);
            let acc = merged.entry(index).or_default();
            acc.0.merge(h);
            acc.1 += requests;
            acc.2 += p.errors;
        }
    }
    let span_s = window as f64 / 1000.0;
    Ok(merged
        .into_iter()
        .map(|(index, (h, requests, errors))| TimePoint {
            t_s: round2(index as f64 * span_s),
            rps: round2(requests as f64 / span_s),
            p50_ms: round2(h.quantile_ms(0.50)),
            p95_ms: round2(h.quantile_ms(0.95)),
            errors,
            requests: Some(requests),
            histogram: Some(h),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_reports::{Level, Severity, ThresholdResult};

    fn shard(index: u32, count: u32, start: i64, times_us: &[u64]) -> LoadResult {
        let mut h = LatencyHistogram::default();
        for t in times_us {
            h.record(*t);
        }
        let row = |name: &str| {
            let mut r = request_stats(name, &h, h.count(), 0, 1.0);
            r.histogram = Some(h.clone());
            r
        };
        LoadResult {
            id: "load/x".into(),
            name: "x".into(),
            severity: Severity::High,
            level: Level::Should,
            outcome: Outcome::Passed,
            users: 2,
            duration_ms: 1000,
            requests: vec![row("get"), row(ALL_REQUESTS)],
            thresholds: vec![ThresholdResult {
                expression: "p95 < 100ms".into(),
                request: None,
                observed: 0.0,
                unit: "ms".into(),
                passed: true,
                no_samples: false,
            }],
            timeseries: vec![TimePoint {
                t_s: 0.0,
                rps: 0.0,
                p50_ms: 0.0,
                p95_ms: 0.0,
                errors: 0,
                requests: Some(h.count()),
                histogram: Some(h.clone()),
            }],
            flows: None,
            notes: vec![],
            smoke: None,
            remediation: None,
            fails_when: None,
            shard: Some(ShardRun {
                indexes: vec![index],
                count,
                started_at_ms: start,
                window_ms: 1000,
                memory_drift_percent: None,
                flows_by_step: BTreeMap::new(),
            }),
        }
    }

    #[test]
    fn shards_add_up_and_thresholds_are_judged_again() {
        let a = shard(0, 2, 1_000_000, &[10_000, 20_000, 30_000]);
        let b = shard(1, 2, 1_000_020, &[40_000, 150_000]);
        let m = merge_shards(&[a, b]).expect("merges");
        let all = m
            .requests
            .iter()
            .find(|r| r.name == ALL_REQUESTS)
            .expect("all");
        assert_eq!(all.count, 5);
        assert_eq!(m.users, 4);
        assert_eq!(
            m.requests.last().map(|r| r.name.as_str()),
            Some(ALL_REQUESTS)
        );
        assert_eq!(
            m.timeseries.len(),
            1,
            "both windows start in the same second"
        );
        assert_eq!(m.timeseries[0].requests, Some(5));
        // p95 of five times is the slowest (150 ms): the merged phase fails its threshold.
        assert!(!m.thresholds[0].passed, "{:?}", m.thresholds);
        assert_eq!(m.outcome, Outcome::Failed);
        assert!(m.notes[0].contains("20 ms apart"), "{:?}", m.notes);
    }

    #[test]
    fn a_missing_or_repeated_shard_is_refused() {
        let a = shard(0, 3, 0, &[1000]);
        let c = shard(2, 3, 0, &[1000]);
        let e = merge_shards(&[a.clone(), c]).expect_err("1/3 missing");
        assert!(e.contains("shard 1/3 missing"), "{e}");
        let e = merge_shards(&[a.clone(), a]).expect_err("twice");
        assert!(e.contains("more than once"), "{e}");
    }

    #[test]
    fn a_result_without_histograms_is_refused() {
        let mut a = shard(0, 1, 0, &[1000]);
        a.requests[0].histogram = None;
        assert!(merge_shards(&[a])
            .expect_err("no histogram")
            .contains("no histogram"));
        let mut b = shard(0, 1, 0, &[1000]);
        b.shard = None;
        assert!(merge_shards(&[b])
            .expect_err("not a shard")
            .contains("--shard"));
    }
}
