//! Live fan-out of review events to SSE streams and waiters, with the replay buffer that
//! `Last-Event-ID` reads.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use keyway_api::reviews::{ReviewEvent, ReviewRequest};
use tokio::sync::{broadcast, watch};

use crate::store::ReviewRecord;

/// Events buffered per subscriber before it is considered lagging (and disconnected).
const EVENT_BUFFER: usize = 4096;
/// Events kept for `Last-Event-ID` replay.
pub(crate) const REPLAY: usize = 1024;

/// Live fan-out of review events to SSE streams and waiters.
///
/// Every event gets an id `<epoch>-<n>` (the epoch is random per hub process); the last
/// [`REPLAY`] events are kept so an SSE client reconnecting with `Last-Event-ID` gets what it
/// missed. When that is not possible (too old, or another hub process) it is sent a `resync`
/// event and lists the queue again.
pub(crate) struct ReviewEvents {
    events: broadcast::Sender<Published>,
    epoch: String,
    ring: Mutex<Ring>,
    /// Flips to true when the hub shuts down: streams and waiters end at once.
    stop: watch::Receiver<bool>,
}

#[derive(Default)]
struct Ring {
    next: u64,
    recent: VecDeque<Published>,
}

/// An event with its sequence number and the owning user of an agent submitter (kept off the
/// wire).
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) seq: u64,
    pub(crate) event: ReviewEvent,
    pub(crate) owner: Option<String>,
}

/// What an SSE subscriber starts with.
pub(crate) struct Backlog {
    pub(crate) rx: broadcast::Receiver<Published>,
    pub(crate) missed: Vec<Published>,
    /// The requested position could not be replayed: the client must list again.
    pub(crate) resync: bool,
}

impl ReviewEvents {
    pub(crate) fn new(stop: watch::Receiver<bool>) -> ReviewEvents {
        let mut epoch = crate::secret::random_id();
        epoch.retain(|c| c.is_ascii_alphanumeric());
        epoch.truncate(12);
        ReviewEvents { events: broadcast::channel(EVENT_BUFFER).0, epoch, ring: Default::default(), stop }
    }

    /// Resolves when the hub is shutting down.
    pub(crate) async fn stopping(&self) {
        let mut stop = self.stop.clone();
        // An error means the sender is gone: stopping too.
        let _ = stop.wait_for(|s| *s).await;
    }

    /// Pushes a transition to subscribers (without the payload: clients fetch it when shown).
    pub(crate) fn announce(&self, rec: ReviewRecord, event: impl FnOnce(ReviewRequest) -> ReviewEvent) {
        let mut request = rec.request;
        request.payload = None;
        self.publish_with_owner(event(request), rec.submitter_owner);
    }

    fn publish_with_owner(&self, event: ReviewEvent, owner: Option<String>) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.next += 1;
        let published = Published { seq: ring.next, event, owner };
        if ring.recent.len() == REPLAY {
            ring.recent.pop_front();
        }
        ring.recent.push_back(published.clone());
        // Sent under the lock, so a subscriber registering concurrently sees each event once:
        // either in its backlog or on its receiver. No subscriber is not an error.
        let _ = self.events.send(published);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }

    pub(crate) fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Subscribes, with the events after `last_event_id` that are still kept.
    pub(crate) fn subscribe_after(&self, last_event_id: Option<&str>) -> Backlog {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = self.events.subscribe();
        let Some(last) = last_event_id else {
            return Backlog { rx, missed: vec![], resync: false };
        };
        let seq = last
            .split_once('-')
            .filter(|(epoch, _)| *epoch == self.epoch)
            .and_then(|(_, n)| n.parse::<u64>().ok())
            .filter(|n| *n <= ring.next);
        let oldest = ring.recent.front().map_or(ring.next + 1, |p| p.seq);
        match seq {
            Some(n) if n + 1 >= oldest => {
                Backlog { rx, missed: ring.recent.iter().filter(|p| p.seq > n).cloned().collect(), resync: false }
            }
            _ => Backlog { rx, missed: vec![], resync: true },
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
        }
    }

    #[test]
    fn replay_gives_what_was_missed_or_asks_for_a_resync() {
        let (_stop, rx) = watch::channel(false);
        let live = ReviewEvents::new(rx);
        // Before anything happened, any id of this hub is up to date.
        let fresh = live.subscribe_after(Some(&live.event_id(0)));
        assert!(!fresh.resync && fresh.missed.is_empty());
        for n in 1..=REPLAY + 100 {
            live.publish_with_owner(ReviewEvent::Created { request: request(n) }, None);
        }
        let recent = live.subscribe_after(Some(&live.event_id((REPLAY + 50) as u64)));
        assert!(!recent.resync);
        let ids: Vec<u64> = recent.missed.iter().map(|p| p.seq).collect();
        assert_eq!(ids, ((REPLAY + 51) as u64..=(REPLAY + 100) as u64).collect::<Vec<_>>());
        // The oldest kept event is 101: asking from 100 works, from 99 it cannot.
        assert_eq!(live.subscribe_after(Some(&live.event_id(100))).missed.len(), REPLAY);
        assert!(live.subscribe_after(Some(&live.event_id(99))).resync);
        for stale in ["otherhub-5", "nonsense", &live.event_id(10_000)] {
            assert!(live.subscribe_after(Some(stale)).resync, "{stale}");
        }
        assert!(!live.subscribe_after(None).resync);
    }
}
