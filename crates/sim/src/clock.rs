//! The simulation clock: simulated durations run `scale` times faster than real ones.
//!
//! Simulated *time points* (used for CronJob schedules) are mapped from real ones around the
//! moment the clock was created: `sim(t) = epoch + (t - epoch) * scale`, so at scale 1 they are
//! the wall clock.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Converts between simulated and real time.
#[derive(Clone, Debug)]
pub struct SimClock {
    scale: f64,
    epoch_wall: DateTime<Utc>,
    epoch_instant: Instant,
}

impl SimClock {
    /// A clock running `scale` times faster than real time, starting now.
    pub fn new(scale: f64) -> SimClock {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        SimClock {
            scale,
            epoch_wall: Utc::now(),
            epoch_instant: Instant::now(),
        }
    }

    /// Simulated seconds per real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// How long a simulated duration takes in real time.
    pub fn real(&self, sim: Duration) -> Duration {
        Duration::from_secs_f64(sim.as_secs_f64() / self.scale)
    }

    /// How much simulated time a real duration stands for.
    pub fn sim(&self, real: Duration) -> Duration {
        Duration::from_secs_f64(real.as_secs_f64() * self.scale)
    }

    /// The real wall-clock time now.
    pub fn wall_now(&self) -> DateTime<Utc> {
        self.epoch_wall + chrono_duration(self.epoch_instant.elapsed())
    }

    /// The simulated time now.
    pub fn sim_now(&self) -> DateTime<Utc> {
        self.to_sim(self.wall_now())
    }

    /// Maps a real wall-clock time to simulated time.
    pub fn to_sim(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        let delta = (real - self.epoch_wall).num_microseconds().unwrap_or(0) as f64;
        self.epoch_wall + chrono::Duration::microseconds((delta * self.scale) as i64)
    }

    /// Maps a simulated time to the real wall-clock time it happens at.
    pub fn to_real(&self, sim: DateTime<Utc>) -> DateTime<Utc> {
        let delta = (sim - self.epoch_wall).num_microseconds().unwrap_or(0) as f64;
        self.epoch_wall + chrono::Duration::microseconds((delta / self.scale) as i64)
    }

    /// The `Instant` at which a real wall-clock time is reached (now if it is past).
    pub fn instant_at(&self, real: DateTime<Utc>) -> Instant {
        let now = self.wall_now();
        let ahead = (real - now).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + ahead
    }
}

/// A `std` duration as a chrono duration (saturating).
pub fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Parses a Go-style duration (`300ms`, `1.5s`, `2m`, `1h30m`); a bare number is seconds.
/// Negative durations are refused.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let ns = gofmt::parse_duration(s).ok()?;
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

/// A Kubernetes timestamp (k8s-openapi's `jiff` based `Time`) as a chrono time.
pub fn from_k8s(t: &k8s_openapi::jiff::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("3x"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("-1"), None);
    }

    #[test]
    fn scaled_durations_and_time_points() {
        let c = SimClock::new(10.0);
        assert_eq!(c.real(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(c.sim(Duration::from_secs(1)), Duration::from_secs(10));
        let t = c.wall_now() + chrono::Duration::seconds(6);
        let s = c.to_sim(t);
        let back = c.to_real(s);
        assert!((back - t).num_milliseconds().abs() <= 1);
        assert!(s - t >= chrono::Duration::seconds(50));
    }

    proptest::proptest! {
        #[test]
        fn parse_duration_never_panics(s in ".{0,20}") {
            let _ = parse_duration(&s);
        }
    }
}
