//! A small log-linear latency histogram in microseconds, bucketed exactly as goose 0.19
//! buckets its response times (every time under 128 µs in a bucket of its own, each
//! power of two above split into 64): a bucket reports its middle, at most 0.78% off any
//! time it holds. Goose's buckets merge into it unchanged, so the per-window figures
//! (ours) and the whole-run figures (goose's) agree to the bucket.

use std::collections::BTreeMap;

const SUB_BITS: u32 = 6;
const EXACT: u64 = 1 << (SUB_BITS + 1);

fn width_bits(us: u64) -> u32 {
    if us < EXACT {
        0
    } else {
        63 - us.leading_zeros() - SUB_BITS
    }
}

fn bucket_floor(us: u64) -> u64 {
    let bits = width_bits(us);
    (us >> bits) << bits
}

fn bucket_value(floor: u64) -> u64 {
    floor + ((1u64 << width_bits(floor)) >> 1)
}

/// Response times, bounded in memory whatever the run length.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Histogram {
    buckets: BTreeMap<u64, u64>,
    count: u64,
    total_us: u64,
    min_us: u64,
    max_us: u64,
}

impl Histogram {
    pub(crate) fn record(&mut self, us: u64) {
        self.add_bucket(bucket_floor(us), 1, us, us, us);
    }

    /// Adds `count` times that fell in the bucket keyed `floor` (goose's key), with their
    /// known fastest, slowest and total.
    pub(crate) fn add_bucket(&mut self, floor: u64, count: u64, min: u64, max: u64, total: u64) {
        if count == 0 {
            return;
        }
        *self.buckets.entry(bucket_floor(floor)).or_insert(0) += count;
        if self.count == 0 || min < self.min_us {
            self.min_us = min;
        }
        self.max_us = self.max_us.max(max);
        self.total_us = self.total_us.saturating_add(total);
        self.count += count;
    }

    /// Adds goose's buckets of one request aggregate.
    pub(crate) fn add_goose(&mut self, data: &goose::metrics::GooseRequestMetricTimingData) {
        if data.counter == 0 {
            return;
        }
        let before_total = self.total_us;
        let before_count = self.count;
        for (&floor, &count) in data.times_us.iter() {
            *self.buckets.entry(bucket_floor(floor)).or_insert(0) += count as u64;
        }
        if before_count == 0 || data.minimum_time_us < self.min_us {
            self.min_us = data.minimum_time_us;
        }
        self.max_us = self.max_us.max(data.maximum_time_us);
        self.total_us = before_total.saturating_add(data.total_time_us);
        self.count = before_count + data.counter as u64;
    }

    pub(crate) fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        for (&floor, &count) in &other.buckets {
            *self.buckets.entry(floor).or_insert(0) += count;
        }
        if self.count == 0 || other.min_us < self.min_us {
            self.min_us = other.min_us;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.total_us = self.total_us.saturating_add(other.total_us);
        self.count += other.count;
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_us as f64 / self.count as f64 / 1000.0
        }
    }

    pub(crate) fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// The time `q` (0..=1) of the times finished within, in ms; 0 without times.
    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        if rank >= self.count {
            return self.max_ms();
        }
        let mut seen = 0u64;
        for (&floor, &count) in &self.buckets {
            seen += count;
            if seen >= rank {
                let v = bucket_value(floor).clamp(self.min_us, self.max_us);
                return v as f64 / 1000.0;
            }
        }
        self.max_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_known_times() {
        let mut h = Histogram::default();
        for ms in 1..=100u64 {
            h.record(ms * 1000);
        }
        assert_eq!(h.count(), 100);
        let p50 = h.quantile_ms(0.5);
        let p95 = h.quantile_ms(0.95);
        assert!((p50 - 50.0).abs() / 50.0 < 0.01, "p50 {p50}");
        assert!((p95 - 95.0).abs() / 95.0 < 0.01, "p95 {p95}");
        assert_eq!(h.max_ms(), 100.0);
        assert!((h.mean_ms() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn small_times_are_exact_and_empty_is_zero() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile_ms(0.95), 0.0);
        h.record(7);
        h.record(9);
        assert_eq!(h.quantile_ms(0.5), 0.007);
        let mut other = Histogram::default();
        other.record(20_000);
        h.merge(&other);
        assert_eq!(h.count(), 3);
        assert_eq!(h.max_ms(), 20.0);
    }
}
