//! An injectable clock, so engine steps and the simulator can be driven through office hours,
//! retry delays and whole calls by a test that moves time by hand.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// Where "now" comes from. Everything in this crate that reasons about time takes one of these
/// (as `Arc<dyn Clock>`) instead of calling `Utc::now()`.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// The current instant in Unix milliseconds, the unit of Retell's timestamps and signatures.
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to, for deterministic tests. Shared between threads (an
/// atomic, so a reader never waits for a writer); microsecond resolution.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { micros: AtomicI64::new(start.timestamp_micros()) }
    }

    /// Jumps to `at` (backwards too: tests use that to model a skewed instance).
    pub fn set(&self, at: DateTime<Utc>) {
        self.micros.store(at.timestamp_micros(), Ordering::SeqCst);
    }

    /// Moves forward by `by` (or backward, if negative) and returns the new time.
    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        let delta = by.num_microseconds().unwrap_or(i64::MAX);
        let now = self.micros.fetch_add(delta, Ordering::SeqCst).saturating_add(delta);
        from_micros(now)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        from_micros(self.micros.load(Ordering::SeqCst))
    }
}

fn from_micros(micros: i64) -> DateTime<Utc> {
    // Out of chrono's range only after an absurd `advance`; saturate rather than panic.
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-03-09T15:00:00Z").unwrap().with_timezone(&Utc);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.advance(TimeDelta::seconds(90)), start + TimeDelta::seconds(90));
        assert_eq!(clock.now_ms(), start.timestamp_millis() + 90_000);
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn the_system_clock_is_close_to_now() {
        let delta = SystemClock.now() - Utc::now();
        assert!(delta.num_seconds().abs() < 5);
    }
}
