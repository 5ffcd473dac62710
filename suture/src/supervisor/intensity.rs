//! Restart intensity: suture's decaying failure count, O(1) per failure.
//!
//! Each restart does `failures = failures * 0.5^(elapsed / half_life) + 1`; the supervisor
//! backs off or escalates once the count exceeds its threshold. Pure: time is passed in.

use std::time::Duration;

use tokio::time::Instant;

/// The decayed count of recent restarts, as of the last one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Intensity {
    failures: f64,
    last: Option<Instant>,
}

impl Intensity {
    /// Counts one restart at `now`; returns the new count.
    pub(crate) fn record(&mut self, now: Instant, half_life: Duration) -> f64 {
        self.failures = match self.last {
            None => 1.0,
            Some(last) => {
                let elapsed = now.saturating_duration_since(last).as_secs_f64();
                // A half-life of `Duration::MAX` means "never decays": the ratio is then 0.
                self.failures * 0.5f64.powf(elapsed / half_life.as_secs_f64()) + 1.0
            }
        };
        self.last = Some(now);
        self.failures
    }

    /// The count as of the last restart.
    pub(crate) fn failures(&self) -> f64 {
        self.failures
    }

    /// Forgets every restart (at the end of a backoff, and at each serve).
    pub(crate) fn reset(&mut self) {
        *self = Intensity::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF_LIFE: Duration = Duration::from_secs(30);

    #[test]
    fn failures_add_up_without_time_passing() {
        let now = Instant::now();
        let mut intensity = Intensity::default();
        for n in 1..=4 {
            assert_eq!(intensity.record(now, HALF_LIFE), f64::from(n));
        }
    }

    #[test]
    fn one_half_life_halves_the_count() {
        let start = Instant::now();
        let mut intensity = Intensity::default();
        intensity.record(start, HALF_LIFE);
        intensity.record(start, HALF_LIFE);
        let count = intensity.record(start + HALF_LIFE, HALF_LIFE);
        assert!((count - 2.0).abs() < 1e-9, "2 halved plus 1, got {count}");
    }

    #[test]
    fn an_endless_half_life_never_decays_and_never_panics() {
        let start = Instant::now();
        let mut intensity = Intensity::default();
        intensity.record(start, Duration::MAX);
        let count = intensity.record(start + Duration::from_secs(3600), Duration::MAX);
        assert!((count - 2.0).abs() < 1e-9, "got {count}");
    }

    #[test]
    fn reset_starts_over() {
        let now = Instant::now();
        let mut intensity = Intensity::default();
        intensity.record(now, HALF_LIFE);
        intensity.reset();
        assert_eq!(intensity.failures(), 0.0);
        assert_eq!(intensity.record(now, HALF_LIFE), 1.0);
    }
}
