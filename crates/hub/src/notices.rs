//! Several hubs on one database act as one: what one hub changes, the others learn at once.
//!
//! Every change that other hubs may hold in memory (a credential revoked or rotated, an agent
//! disabled, a user's roles or state, a service account, the signing keys) goes through
//! [`changed`]: it drops this process's cached copy and, on a shared database, sends a notice
//! (`NOTIFY`) before the change is answered. [`listen_loop`] applies the other hubs' notices.
//! Review events travel the same way, as ids of rows in the database ([`announce`]).
//!
//! A notice is `<origin>|<what>`, where the origin is random per process (a hub skips its own
//! cache notices) and `<what>` is `c:<credential id>`, `a:<agent id>`, `u:<user id>`,
//! `s:<service account id>`, `k` (signing keys) or `r:<review event id>`. When the notices'
//! connection drops, anything may have been missed: the hub forgets every cached entry and
//! ends its event streams (their clients reconnect and list again).

use std::time::Duration;

use keyway_api::reviews::{ReviewEvent, ReviewRequest};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::report;
use crate::reviews::events::ReviewEvents;
use crate::state::AppState;
use crate::store::{ReviewRecord, Store};

/// How long review events stay in the database for hubs that are behind.
const EVENTS_KEPT_SECS: i64 = 600;

/// Something other hubs may hold in memory changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice<'a> {
    Credential(&'a str),
    Agent(&'a str),
    User(&'a str),
    ServiceAccount(&'a str),
    Keys,
}

impl Notice<'_> {
    fn encode(self) -> String {
        match self {
            Notice::Credential(id) => format!("c:{id}"),
            Notice::Agent(id) => format!("a:{id}"),
            Notice::User(id) => format!("u:{id}"),
            Notice::ServiceAccount(id) => format!("s:{id}"),
            Notice::Keys => "k".to_owned(),
        }
    }

    fn decode(what: &str) -> Option<Notice<'_>> {
        if what == "k" {
            return Some(Notice::Keys);
        }
        let (kind, id) = what.split_once(':')?;
        Some(match kind {
            "c" => Notice::Credential(id),
            "a" => Notice::Agent(id),
            "u" => Notice::User(id),
            "s" => Notice::ServiceAccount(id),
            _ => return None,
        })
    }
}

/// A random tag of this process, for the notices it sends.
pub(crate) fn new_origin() -> String {
    crate::secret::random_base62(12)
}

/// A notice as it goes on the wire, from `origin` (the one place that spells the format).
pub(crate) fn payload(origin: &str, notice: Notice<'_>) -> String {
    format!("{origin}|{}", notice.encode())
}

/// The start of a review event's notice from `origin`; the event's id follows.
fn review_prefix(origin: &str) -> String {
    format!("{origin}|r:")
}

/// Forgets this process's cached copy of what `notices` name and tells the other hubs of the
/// database, before the change is answered. A failed notice is logged: the other hubs then
/// learn of the change when their cached entries run out (10 s).
pub(crate) async fn changed<S: Store>(state: &AppState<S>, notices: &[Notice<'_>]) {
    for n in notices {
        forget(state, *n).await;
    }
    if !state.store.shared() || notices.is_empty() {
        return;
    }
    let payloads: Vec<String> = notices.iter().map(|n| payload(&state.origin, *n)).collect();
    if let Err(e) = state.store.notify(&payloads).await {
        tracing::warn!(error = %report(&e), "telling the other hubs of a change failed; they see it within 10 s");
    }
}

async fn forget<S: Store>(state: &AppState<S>, notice: Notice<'_>) {
    match notice {
        Notice::Credential(id) => state.credentials.cache.invalidate(id),
        Notice::Agent(id) => state.credentials.cache.invalidate_agent(id),
        Notice::User(id) => {
            state.users.invalidate(id);
            state.credentials.cache.invalidate_owner(id);
        }
        Notice::ServiceAccount(id) => state.credentials.cache.invalidate_service_account(id),
        Notice::Keys => {
            if let Err(e) = state.keys.refresh(&state.store).await {
                tracing::warn!(error = %report(&e), "re-reading the signing keys failed");
            }
        }
    }
}

/// A review event as it travels between hubs.
#[derive(Serialize, Deserialize)]
struct Carried {
    event: ReviewEvent,
    owner: Option<String>,
}

/// Pushes a review transition to every subscriber: on an embedded database at once, on a
/// shared one through the database, so that every hub publishes it, in the same order.
pub(crate) async fn announce<S: Store>(
    state: &AppState<S>,
    rec: ReviewRecord,
    event: impl FnOnce(ReviewRequest) -> ReviewEvent,
) {
    let (event, owner) = ReviewEvents::prepare(rec, event);
    if !state.store.shared() {
        state.reviews.publish(event, owner, None);
        return;
    }
    let carried = Carried { event, owner };
    let body = match serde_json::to_string(&carried) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "a review event could not be written");
            return;
        }
    };
    let prefix = review_prefix(&state.origin);
    if let Err(e) = state.store.append_review_event(state.now(), &body, &prefix).await {
        // At least this hub's subscribers hear of it.
        tracing::warn!(error = %report(&e), "sending a review event to the other hubs failed");
        state.reviews.publish(carried.event, carried.owner, None);
    }
}

/// Applies one notice from the database.
async fn receive<S: Store>(state: &AppState<S>, payload: &str) {
    let Some((origin, what)) = payload.split_once('|') else {
        return;
    };
    if let Some(id) = what.strip_prefix("r:") {
        let Ok(id) = id.parse::<u64>() else {
            return;
        };
        match state.store.review_event(id).await {
            Ok(Some(body)) => match serde_json::from_str::<Carried>(&body) {
                Ok(c) => state.reviews.publish(c.event, c.owner, Some(id)),
                Err(e) => tracing::warn!(error = %e, id, "a review event from the database could not be read"),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %report(&e), id, "reading a review event failed; streams will list again");
                state.reviews.reset();
            }
        }
        return;
    }
    if origin == state.origin {
        return;
    }
    if let Some(notice) = Notice::decode(what) {
        forget(state, notice).await;
    }
}

/// Events may have been missed: forget everything cached and end the event streams.
async fn forget_everything<S: Store>(state: &AppState<S>) {
    state.credentials.cache.clear();
    state.users.clear();
    state.reviews.reset();
    forget(state, Notice::Keys).await;
}

/// Listens for the other hubs' notices until `stop` (nothing to do on an embedded database).
pub(crate) async fn listen_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    if !state.store.shared() {
        return;
    }
    let mut listener = loop {
        match state.store.listen().await {
            Ok(Some(listener)) => break listener,
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %report(&e), "listening for the other hubs' notices failed; trying again"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            got = listener.recv() => match got {
                Ok(Some(payload)) => receive(&state, &payload).await,
                Ok(None) => {
                    tracing::warn!("the connection for the other hubs' notices was lost; reconnecting");
                    forget_everything(&state).await;
                }
                Err(e) => {
                    tracing::warn!(error = %report(&e), "reconnecting for the other hubs' notices failed; trying again");
                    tokio::select! {
                        _ = stop.changed() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            },
        }
    }
}

/// Whether this hub holds the lease on the periodic work that runs on one hub at a time
/// (always, on an embedded database). A failure to ask is a no for now.
pub(crate) async fn leads<S: Store>(state: &AppState<S>) -> bool {
    match state.store.lead().await {
        Ok(leads) => leads,
        Err(e) => {
            tracing::warn!(error = %report(&e), "asking for the periodic-work lease failed");
            false
        }
    }
}

/// Deletes the review events older than [`EVENTS_KEPT_SECS`] (on the hub holding the lease).
pub(crate) async fn prune<S: Store>(state: &AppState<S>) {
    if let Err(e) = state.store.prune_review_events(state.now() - EVENTS_KEPT_SECS).await {
        tracing::warn!(error = %report(&e), "pruning review events failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_back_as_they_were_sent() {
        for n in [
            Notice::Credential("cr_abc"),
            Notice::Agent("ag_1"),
            Notice::User("u:with:colons"),
            Notice::ServiceAccount("sa_1"),
            Notice::Keys,
        ] {
            assert_eq!(Notice::decode(&n.encode()), Some(n));
        }
        assert_eq!(Notice::decode("x:1"), None);
        assert_eq!(Notice::decode(""), None);
    }
}
