//! Time source of the hub.
//!
//! Every expiry decision (codes, sessions, tokens) reads the time through a [`Clock`], so tests
//! can move time forward instead of sleeping.
//!
//! The hub's time never runs backwards. When the system clock is stepped back (an NTP step, a
//! VM restored from a snapshot, a wrong manual setting), [`Clock::now`] holds at the latest time
//! it has given until the system clock catches up, so a code or token that has expired stays
//! expired. At start, the hub holds its clock at the newest audit row's time (`Hub::with_store`),
//! so a restart with a clock set back revives nothing either.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time plus an adjustable offset (zero unless [`Clock::advance`] is called), never
/// earlier than a time it has already given.
///
/// Clones share the offset and that floor: advancing one clone advances every clone, including
/// the one a running hub holds.
#[derive(Clone)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
    /// The latest time given (or held with [`Clock::hold_at_least`]).
    floor: Arc<AtomicI64>,
    /// The system reading [`Clock::freeze`] held, or [`NOT_FROZEN`].
    frozen: Arc<AtomicI64>,
}

const NOT_FROZEN: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Clock {
        Clock { offset_secs: Arc::default(), floor: Arc::default(), frozen: Arc::new(AtomicI64::new(NOT_FROZEN)) }
    }
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

    /// Moves the time this clock reads back, as a system clock stepped back would (for tests of
    /// that fault): [`Clock::now`] holds where it was until the reading catches up.
    pub fn step_back(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let _ = self.offset_secs.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| Some(cur.saturating_sub(secs)));
    }

    /// Holds the system clock's reading where it is now, for this clock and its clones: from
    /// then on the time moves only by [`Clock::advance`] and [`Clock::step_back`]. For tests
    /// of an exact boundary, which a second of real time passing between two requests would
    /// otherwise move.
    pub fn freeze(&self) {
        let _ = self.frozen.compare_exchange(NOT_FROZEN, system_secs(), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Never gives a time before `t` from now on (a time the hub is known to have reached).
    pub fn hold_at_least(&self, t: i64) {
        self.floor.fetch_max(t, Ordering::SeqCst);
    }

    /// The system clock's reading plus the offset, which may run backwards.
    fn reading(&self) -> i64 {
        let real = match self.frozen.load(Ordering::Relaxed) {
            NOT_FROZEN => system_secs(),
            held => held,
        };
        real.saturating_add(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Current time as seconds since the Unix epoch: the reading, or the latest time given if the
    /// reading is behind it.
    pub fn now(&self) -> i64 {
        let t = self.reading();
        // A read, and a write only when the second changes: cheap on the exchange's path.
        let floor = self.floor.load(Ordering::Acquire);
        if t <= floor {
            return floor;
        }
        self.floor.fetch_max(t, Ordering::AcqRel).max(t)
    }

    /// How far the system clock's reading is behind the time the clock gives (0 when it is not).
    pub fn behind_secs(&self) -> i64 {
        (self.floor.load(Ordering::Acquire) - self.reading()).max(0)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("offset_secs", &self.offset_secs.load(Ordering::SeqCst))
            .field("floor", &self.floor.load(Ordering::SeqCst))
            .field("frozen", &(self.frozen.load(Ordering::SeqCst) != NOT_FROZEN))
            .finish()
    }
}

/// A duration in whole seconds as `i64`, saturating (settings are validated to be sane).
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The system clock in seconds since the Unix epoch.
fn system_secs() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        // A clock set before 1970 is broken; treat it as the epoch rather than panicking.
        Err(_) => 0,
    }
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

    #[test]
    fn a_step_back_holds_the_time_where_it_was() {
        let clock = Clock::system();
        let before = clock.now();
        clock.step_back(Duration::from_secs(600));
        assert!(clock.now() >= before, "the time ran backwards");
        assert!(clock.behind_secs() >= 599);
        // Moving forward past the hold gives the reading again.
        clock.advance(Duration::from_secs(1200));
        assert!(clock.now() >= before + 599);
        assert_eq!(clock.behind_secs(), 0);
    }

    #[test]
    fn a_held_time_is_never_undercut() {
        let clock = Clock::system();
        let later = clock.now() + 3600;
        clock.hold_at_least(later);
        assert_eq!(clock.now(), later);
        clock.hold_at_least(later - 10);
        assert_eq!(clock.now(), later);
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::system();
        clock.freeze();
        let t = clock.now();
        // Past the next second of real time: the reading stays.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(clock.now(), t);
        clock.clone().advance(Duration::from_secs(59));
        assert_eq!(clock.now(), t + 59);
    }
}
