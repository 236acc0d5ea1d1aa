//! Time source of the hub.
//!
//! Every expiry decision (codes, sessions, tokens) reads the time through a [`Clock`], so tests
//! can move time forward instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time plus an adjustable offset (zero unless [`Clock::advance`] is called).
///
/// Clones share the offset: advancing one clone advances every clone, including the one
/// a running hub holds.
#[derive(Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock with no offset.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Moves this clock (and all its clones) forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let _ = self.offset_secs.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| Some(cur.saturating_add(secs)));
    }

    /// Current time as seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        let real = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970 is broken; treat it as the epoch rather than panicking.
            Err(_) => 0,
        };
        real.saturating_add(self.offset_secs.load(Ordering::SeqCst))
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock").field("offset_secs", &self.offset_secs.load(Ordering::SeqCst)).finish()
    }
}

/// A duration in whole seconds as `i64`, saturating (settings are validated to be sane).
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_is_shared_between_clones() {
        let a = Clock::system();
        let b = a.clone();
        let before = b.now();
        a.advance(Duration::from_secs(3600));
        assert!(b.now() >= before + 3600);
    }
}
