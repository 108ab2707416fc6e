//! The clock, a leaf helper: what time it is, as the nanoseconds since the Unix epoch every stored
//! time uses. Pure stages take the time as an argument (the tracker, the alert rules); the
//! running stages read it from a [`Clock`] they are given, so that a test can move the server's
//! time forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Now, in nanoseconds since the Unix epoch; saturates rather than wrapping (year 2262).
pub fn now_unix_nano() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The server's time: the system's, or — for tests — the system's plus an offset that only moves
/// forward, by [`Clock::advance`] and by every [`Clock::sleep`] (which then returns at once).
/// Cheap to clone; clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None` for the system clock. The offset is in nanoseconds.
    offset: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock for tests: time passes as on the system clock, and jumps when told to.
    pub fn adjustable() -> Clock {
        Clock {
            offset: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    pub fn now(&self) -> i64 {
        let offset = self
            .offset
            .as_ref()
            .map_or(0, |o| o.load(Ordering::Relaxed));
        now_unix_nano().saturating_add(offset)
    }

    /// Moves an adjustable clock forward; the system clock cannot be moved, and ignores it.
    pub fn advance(&self, by: Duration) {
        if let Some(o) = &self.offset {
            let ns = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
            o.fetch_add(ns, Ordering::Relaxed);
        }
    }

    /// Waits `d`: really on the system clock; on an adjustable one, by moving it forward.
    pub async fn sleep(&self, d: Duration) {
        if self.offset.is_some() {
            self.advance(d);
        } else {
            tokio::time::sleep(d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_adjustable_clock_jumps_and_its_sleeps_return_at_once() {
        let clock = Clock::adjustable();
        let shared = clock.clone();
        let before = clock.now();
        let started = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert!(started.elapsed() < Duration::from_secs(60));
        shared.advance(Duration::from_secs(60));
        let moved = clock.now() - before;
        assert!(moved >= 3660 * 1_000_000_000, "{moved}");

        let system = Clock::system();
        system.advance(Duration::from_secs(3600));
        assert!((system.now() - now_unix_nano()).abs() < 60 * 1_000_000_000);
    }
}
