//! A fixed-bucket latency histogram of atomics, for the commit latency the store reports
//! (`Store::stats`): recording is two relaxed atomic additions, so it costs the writer thread
//! nothing next to the commit it measures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (etcd's disk-latency buckets, 1 ms … 8 s, shifted
/// down to 0.25 ms for an fsync-less store).
pub const BOUNDS: [f64; 14] = [
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    8.192,
];

/// Counts per bucket (the last one is +Inf) and the sum.
#[derive(Debug, Default)]
pub(crate) struct LatencyHistogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A read of [`LatencyHistogram`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    /// Observations per bucket (not cumulative) as (upper bound in seconds, count); the
    /// last bound is `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations, in seconds.
    pub sum_seconds: f64,
    /// Number of observations.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one observation.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn read(&self) -> Latencies {
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
            .collect();
        Latencies {
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let h = LatencyHistogram::default();
        h.record(Duration::from_micros(100));
        h.record(Duration::from_micros(250));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(20));
        let l = h.read();
        assert_eq!(l.count, 4);
        assert_eq!(l.buckets[0], (0.00025, 2));
        assert_eq!(l.buckets[4], (0.004, 1));
        assert_eq!(l.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((l.sum_seconds - 20.00335).abs() < 1e-9);
    }
}
