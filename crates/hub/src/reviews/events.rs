//! Live fan-out of review events to SSE streams and waiters, with the replay buffer that
//! `Last-Event-ID` reads.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use keyway_api::reviews::{ReviewEvent, ReviewRequest};
use tokio::sync::{broadcast, watch};

use crate::store::ReviewRecord;

/// Events buffered per subscriber before it is considered lagging (and disconnected).
const EVENT_BUFFER: usize = 4096;
/// Events kept for `Last-Event-ID` replay.
pub(crate) const REPLAY: usize = 1024;
/// SSE streams one principal may hold open at once.
pub(crate) const STREAMS_PER_PRINCIPAL: usize = 8;
/// Long-poll waits one principal may hold open at once.
pub(crate) const WAITS_PER_PRINCIPAL: usize = 32;
/// Streams and waits of everyone together.
pub(crate) const STREAMS_IN_ALL: usize = 4096;
/// The epoch of event ids on a database several hubs share.
const SHARED_EPOCH: &str = "db";

/// Live fan-out of review events to SSE streams and waiters.
///
/// Every event gets an id `<epoch>-<n>`; the last [`REPLAY`] events are kept so an SSE client
/// reconnecting with `Last-Event-ID` gets what it missed. When that is not possible (too old,
/// or another database) it is sent a `resync` event and lists the queue again.
///
/// On a database several hubs share, `n` is the event's id in the database and the epoch is
/// the same on every hub, and each hub publishes the events in the order their notices arrive,
/// which PostgreSQL makes the same on every hub (commit order): a client may reconnect to any
/// hub with the id it last saw. On an embedded database the epoch is random per process and
/// `n` counts this process's events.
pub(crate) struct ReviewEvents {
    epoch: String,
    shared: bool,
    ring: Mutex<Ring>,
    /// Flips to true when the hub shuts down: streams and waiters end at once.
    stop: watch::Receiver<bool>,
    /// Streams and waits open, by `kind:principal`, and in all.
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    by: HashMap<String, usize>,
    all: usize,
}

/// An open stream or wait: counted until dropped.
pub(crate) struct Slot {
    open: Arc<Mutex<Open>>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.all = open.all.saturating_sub(1);
        if let Some(n) = open.by.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.by.remove(&self.key);
            }
        }
    }
}

/// Why a stream or wait was not opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The principal holds its share already.
    Principal,
    /// The hub holds [`STREAMS_IN_ALL`].
    Hub,
}

/// Where a replay stands.
#[derive(Debug)]
pub(crate) enum Replay {
    /// The next kept event after the position.
    Next(Box<Published>),
    /// Nothing after the position: the replay is done.
    UpToDate,
    /// The next event is no longer kept (the reader was too slow): the client must list again.
    Gone,
}

struct Ring {
    /// Replaced by [`ReviewEvents::reset`], which ends every receiver of the old one.
    events: broadcast::Sender<Published>,
    next: u64,
    recent: VecDeque<Published>,
}

/// An event with its sequence number and the owning user of an agent submitter (kept off the
/// wire).
#[derive(Clone, Debug)]
pub(crate) struct Published {
    /// This process's count (consecutive): where the stream is in the buffer.
    pub(crate) seq: u64,
    /// The id clients see: the database's on a shared database, else `seq`.
    pub(crate) id: u64,
    pub(crate) event: ReviewEvent,
    pub(crate) owner: Option<String>,
}

/// What an SSE subscriber starts with. The missed events are not copied: the stream reads them
/// one at a time from the shared buffer ([`ReviewEvents::replay_after`]), as fast as the client
/// takes them.
pub(crate) struct Backlog {
    pub(crate) rx: broadcast::Receiver<Published>,
    /// Replay the kept events after this sequence number first.
    pub(crate) replay_after: Option<u64>,
    /// The requested position could not be replayed: the client must list again.
    pub(crate) resync: bool,
}

impl ReviewEvents {
    /// `shared`: the database is shared by several hubs (see the type's documentation).
    pub(crate) fn new(stop: watch::Receiver<bool>, shared: bool) -> ReviewEvents {
        let epoch = if shared {
            SHARED_EPOCH.to_owned()
        } else {
            let mut epoch = crate::secret::random_id();
            epoch.retain(|c| c.is_ascii_alphanumeric());
            epoch.truncate(12);
            epoch
        };
        ReviewEvents {
            epoch,
            shared,
            ring: Mutex::new(Ring { events: broadcast::channel(EVENT_BUFFER).0, next: 0, recent: VecDeque::new() }),
            stop,
            open: Default::default(),
        }
    }

    /// Resolves when the hub is shutting down.
    pub(crate) async fn stopping(&self) {
        let mut stop = self.stop.clone();
        // An error means the sender is gone: stopping too.
        let _ = stop.wait_for(|s| *s).await;
    }

    /// The event of a transition as subscribers get it (without the payload: clients fetch it
    /// when shown), and the owning user of an agent submitter.
    pub(crate) fn prepare(
        rec: ReviewRecord,
        event: impl FnOnce(ReviewRequest) -> ReviewEvent,
    ) -> (ReviewEvent, Option<String>) {
        let mut request = rec.request;
        request.payload = None;
        (event(request), rec.submitter_owner)
    }

    /// Pushes an event to subscribers, with its database id on a shared database.
    pub(crate) fn publish(&self, event: ReviewEvent, owner: Option<String>, id: Option<u64>) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.next += 1;
        let seq = ring.next;
        let published = Published { seq, id: id.unwrap_or(seq), event, owner };
        if ring.recent.len() == REPLAY {
            ring.recent.pop_front();
        }
        ring.recent.push_back(published.clone());
        // Sent under the lock, so a subscriber registering concurrently sees each event once:
        // either in its backlog or on its receiver. No subscriber is not an error.
        let _ = ring.events.send(published);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner).events.subscribe()
    }

    /// Forgets the kept events and ends every stream and wait (they reconnect, and are told to
    /// list again): events may have been missed, e.g. while the notices' connection was down.
    pub(crate) fn reset(&self) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.recent.clear();
        ring.events = broadcast::channel(EVENT_BUFFER).0;
    }

    pub(crate) fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Counts one stream or wait of `kind` for `principal`, at most `per_principal` of them.
    pub(crate) fn admit(&self, kind: &str, principal: &str, per_principal: usize) -> Result<Slot, Full> {
        let key = format!("{kind}:{principal}");
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.all >= STREAMS_IN_ALL {
            return Err(Full::Hub);
        }
        let n = open.by.entry(key.clone()).or_default();
        if *n >= per_principal {
            return Err(Full::Principal);
        }
        *n += 1;
        open.all += 1;
        Ok(Slot { open: Arc::clone(&self.open), key })
    }

    /// The first kept event after `seq` (one clone, under the lock for a moment).
    pub(crate) fn replay_after(&self, seq: u64) -> Replay {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(oldest) = ring.recent.front().map(|p| p.seq) else {
            return Replay::UpToDate;
        };
        if seq >= ring.next {
            return Replay::UpToDate;
        }
        if seq + 1 < oldest {
            return Replay::Gone;
        }
        // Sequence numbers in the buffer are consecutive.
        let index = usize::try_from(seq + 1 - oldest).unwrap_or(usize::MAX);
        ring.recent.get(index).map_or(Replay::UpToDate, |p| Replay::Next(Box::new(p.clone())))
    }

    /// Subscribes, with the position after which the kept events are to be replayed.
    pub(crate) fn subscribe_after(&self, last_event_id: Option<&str>) -> Backlog {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = ring.events.subscribe();
        let Some(last) = last_event_id else {
            return Backlog { rx, replay_after: None, resync: false };
        };
        let id =
            last.split_once('-').filter(|(epoch, _)| *epoch == self.epoch).and_then(|(_, n)| n.parse::<u64>().ok());
        if self.shared {
            // Where the client's last event is in this hub's buffer, if it is there.
            let at = id.and_then(|id| ring.recent.iter().rev().find(|p| p.id == id)).map(|p| p.seq);
            return match at {
                Some(seq) => Backlog { rx, replay_after: Some(seq), resync: false },
                None => Backlog { rx, replay_after: None, resync: true },
            };
        }
        let seq = id.filter(|n| *n <= ring.next);
        let oldest = ring.recent.front().map_or(ring.next + 1, |p| p.seq);
        match seq {
            Some(n) if n + 1 >= oldest => Backlog { rx, replay_after: Some(n), resync: false },
            _ => Backlog { rx, replay_after: None, resync: true },
        }
    }
}

#[cfg(test)]
mod tests {
    use keyway_api::auth::PrincipalKind;
    use keyway_api::reviews::{Actor, ContentType, ReviewEvent, ReviewRequest, ReviewStatus};

    use super::*;

    fn request(n: usize) -> ReviewRequest {
        ReviewRequest {
            id: format!("r{n}"),
            title: "t".into(),
            kind: "general".into(),
            payload: None,
            content_type: ContentType::Json,
            links: vec![],
            submitter: Actor { kind: PrincipalKind::User, id: "u".into(), name: "u".into() },
            created_at: 0,
            expires_at: 1,
            threshold: 1,
            approvals: 0,
            status: ReviewStatus::Pending,
            decided_at: None,
            decisions: vec![],
            may_decide: false,
            asked_of: None,
        }
    }

    #[test]
    fn replay_gives_what_was_missed_or_asks_for_a_resync() {
        let (_stop, rx) = watch::channel(false);
        let live = ReviewEvents::new(rx, false);
        // Before anything happened, any id of this hub is up to date.
        let fresh = live.subscribe_after(Some(&live.event_id(0)));
        assert!(!fresh.resync && matches!(live.replay_after(0), Replay::UpToDate));
        for n in 1..=REPLAY + 100 {
            live.publish(ReviewEvent::Created { request: request(n) }, None, None);
        }
        let recent = live.subscribe_after(Some(&live.event_id((REPLAY + 50) as u64)));
        assert!(!recent.resync);
        let replayed = |from: u64| {
            let (mut at, mut ids) = (from, Vec::new());
            while let Replay::Next(p) = live.replay_after(at) {
                at = p.seq;
                ids.push(p.seq);
            }
            ids
        };
        assert_eq!(recent.replay_after, Some((REPLAY + 50) as u64));
        assert_eq!(replayed((REPLAY + 50) as u64), ((REPLAY + 51) as u64..=(REPLAY + 100) as u64).collect::<Vec<_>>());
        // The oldest kept event is 101: asking from 100 works, from 99 it cannot.
        assert_eq!(live.subscribe_after(Some(&live.event_id(100))).replay_after, Some(100));
        assert_eq!(replayed(100).len(), REPLAY);
        assert!(matches!(live.replay_after(99), Replay::Gone));
        assert!(live.subscribe_after(Some(&live.event_id(99))).resync);
        for stale in ["otherhub-5", "nonsense", &live.event_id(10_000)] {
            assert!(live.subscribe_after(Some(stale)).resync, "{stale}");
        }
        assert!(!live.subscribe_after(None).resync);
    }

    #[test]
    fn on_a_shared_database_replay_follows_the_order_events_arrived_in_and_a_reset_ends_streams() {
        let (_stop, rx) = watch::channel(false);
        let live = ReviewEvents::new(rx, true);
        // Database ids may commit out of order; every hub publishes them in commit order.
        for id in [10, 12, 11] {
            live.publish(ReviewEvent::Created { request: request(id as usize) }, None, Some(id));
        }
        let after_12 = live.subscribe_after(Some("db-12"));
        assert!(!after_12.resync);
        let Some(seq) = after_12.replay_after else { panic!("no replay position") };
        let Replay::Next(next) = live.replay_after(seq) else { panic!("nothing after 12") };
        assert_eq!((next.id, live.event_id(next.id)), (11, "db-11".to_owned()));
        assert!(matches!(live.replay_after(next.seq), Replay::UpToDate));
        for unknown in ["db-99", "db-0", "otherhub-10", "db-x"] {
            assert!(live.subscribe_after(Some(unknown)).resync, "{unknown}");
        }
        let mut rx = live.subscribe();
        live.reset();
        assert!(matches!(rx.try_recv(), Err(broadcast::error::TryRecvError::Closed)));
        assert!(live.subscribe_after(Some("db-12")).resync, "the kept events are forgotten");
    }

    #[test]
    fn streams_are_counted_per_principal_until_dropped() {
        let (_stop, rx) = watch::channel(false);
        let live = ReviewEvents::new(rx, false);
        let held: Vec<Slot> = (0..3).map(|_| live.admit("sse", "p1", 3).unwrap()).collect();
        assert_eq!(live.admit("sse", "p1", 3).err(), Some(Full::Principal));
        let other = live.admit("sse", "p2", 3).unwrap();
        let wait = live.admit("wait", "p1", 3).unwrap();
        drop(held);
        let again = live.admit("sse", "p1", 3).unwrap();
        drop((other, wait, again));
        assert_eq!(live.open.lock().unwrap().all, 0);
    }
}
