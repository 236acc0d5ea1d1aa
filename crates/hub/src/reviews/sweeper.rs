//! Expiry of review requests, exact on the hub's clock: a background sweeper, and a lazy sweep
//! before every read and decision.

use std::time::Duration;

use keyway_api::reviews::ReviewEvent;
use tokio::sync::watch;

use super::audit::{TransitionAudit, expiry_event};
use crate::error::{Error, report};
use crate::state::AppState;
use crate::store::{ReviewRecord, Store};

/// How often the sweeper looks for requests past their TTL.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Requests expired per sweeper transaction.
const SWEEP_BATCH: u32 = 500;

/// Expires every pending request past its TTL, audits and announces each. Cheap when none is
/// due (one indexed probe).
pub(crate) async fn sweep<S: Store>(state: &AppState<S>) -> Result<(), Error> {
    let now = state.now();
    if !state.store.reviews_due(now).await? {
        return Ok(());
    }
    loop {
        let audit = TransitionAudit { now, change: move |r: &ReviewRecord| expiry_event(now, r) };
        let expired = state.store.expire_reviews(now, SWEEP_BATCH, &audit).await?;
        let n = expired.len();
        for rec in expired {
            crate::notices::announce(state, rec, |request| ReviewEvent::Expired { request }).await;
        }
        if n < SWEEP_BATCH as usize {
            return Ok(());
        }
    }
}

/// The background sweeper, on the hub holding the periodic-work lease: runs until `stop` flips.
pub(crate) async fn sweep_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {
                // One hub of a shared database sweeps; the others still expire what they read
                // (the lazy sweep), and the store lets one of them record each expiry.
                if !crate::notices::leads(&state).await {
                    continue;
                }
                if let Err(e) = sweep(&state).await {
                    tracing::warn!(error = %report(&e), "expiring review requests failed");
                }
            }
        }
    }
}
