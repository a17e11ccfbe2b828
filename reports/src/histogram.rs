//! A log-linear latency histogram in microseconds (HDR-style: every time under 128 µs in
//! a bucket of its own, each power of two above split into 64), bucketed exactly as goose
//! 0.19 buckets its response times: a bucket reports its middle, at most
//! [`MAX_RELATIVE_ERROR`] off any time it holds. Part of the result model so that load
//! shards write their histograms and `flowgate report merge` adds them exactly.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most a reported quantile is off the true time it stands for: half a bucket,
/// 1/128 of the bucket's floor.
pub const MAX_RELATIVE_ERROR: f64 = 1.0 / 128.0;

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

/// Response times, bounded in memory whatever the run length. Serialized as
/// `{"count", "total_us", "min_us", "max_us", "buckets": {"<floor µs>": count}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    count: u64,
    total_us: u64,
    min_us: u64,
    max_us: u64,
    buckets: BTreeMap<u64, u64>,
}

impl LatencyHistogram {
    pub fn record(&mut self, us: u64) {
        self.add_bucket(bucket_floor(us), 1, us, us, us);
    }

    /// Adds `count` times that fell in the bucket keyed `floor` (goose's key), with their
    /// known fastest, slowest and total.
    pub fn add_bucket(&mut self, floor: u64, count: u64, min: u64, max: u64, total: u64) {
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

    /// Adds times already bucketed (goose's `times_us`: floor → count), with their known
    /// fastest, slowest and total.
    pub fn add_counts(
        &mut self,
        buckets: impl IntoIterator<Item = (u64, u64)>,
        min_us: u64,
        max_us: u64,
        total_us: u64,
    ) {
        let before = self.count;
        let mut added = 0;
        for (floor, count) in buckets {
            if count > 0 {
                *self.buckets.entry(bucket_floor(floor)).or_insert(0) += count;
                added += count;
            }
        }
        if added == 0 {
            return;
        }
        if before == 0 || min_us < self.min_us {
            self.min_us = min_us;
        }
        self.max_us = self.max_us.max(max_us);
        self.total_us = self.total_us.saturating_add(total_us);
        self.count = before + added;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
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

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_us as f64 / self.count as f64 / 1000.0
        }
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// The time `q` (0..=1) of the times finished within, in ms; 0 without times.
    pub fn quantile_ms(&self, q: f64) -> f64 {
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
        let mut h = LatencyHistogram::default();
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
    fn a_histogram_survives_json_and_merges_exactly() {
        let (mut a, mut b, mut whole) = (
            LatencyHistogram::default(),
            LatencyHistogram::default(),
            LatencyHistogram::default(),
        );
        for us in (1..=3000u64).map(|i| i * 37) {
            if us % 2 == 0 {
                a.record(us)
            } else {
                b.record(us)
            }
            whole.record(us);
        }
        let a: LatencyHistogram =
            serde_json::from_str(&serde_json::to_string(&a).expect("json")).expect("back");
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(
            merged, whole,
            "merging shards is the histogram of the whole run"
        );
    }

    #[test]
    fn a_quantile_is_within_the_stated_error() {
        for us in [150u64, 999, 12_345, 50_000, 987_654] {
            let mut one = LatencyHistogram::default();
            one.record(us);
            one.record(u64::MAX / 4);
            let got = one.quantile_ms(0.5) * 1000.0;
            let err = (got - us as f64).abs() / us as f64;
            assert!(err <= MAX_RELATIVE_ERROR, "{us}: {got} ({err})");
        }
    }

    #[test]
    fn small_times_are_exact_and_empty_is_zero() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.95), 0.0);
        h.record(7);
        h.record(9);
        assert_eq!(h.quantile_ms(0.5), 0.007);
        let mut other = LatencyHistogram::default();
        other.record(20_000);
        h.merge(&other);
        assert_eq!(h.count(), 3);
        assert_eq!(h.max_ms(), 20.0);
    }
}
