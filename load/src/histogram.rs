//! The latency histogram is the result model's ([`flowgate_reports::LatencyHistogram`]):
//! shards write it and `report merge` adds it. Here: goose's buckets into it.

pub(crate) use flowgate_reports::LatencyHistogram as Histogram;

/// Adds goose's buckets of one request aggregate (goose buckets as we do, so they go in
/// unchanged and the per-window figures and the whole-run figures agree to the bucket).
pub(crate) fn add_goose(h: &mut Histogram, data: &goose::metrics::GooseRequestMetricTimingData) {
    if data.counter == 0 {
        return;
    }
    h.add_counts(
        data.times_us
            .iter()
            .map(|(&floor, &count)| (floor, count as u64)),
        data.minimum_time_us,
        data.maximum_time_us,
        data.total_time_us,
    );
}
