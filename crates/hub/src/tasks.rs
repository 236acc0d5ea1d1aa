//! The hub's background work besides the review sweeper: purging expired rows and writing
//! credential last-used times behind.

use std::time::Duration;

use tokio::sync::watch;

use crate::credentials::cache::FLUSH_INTERVAL;
use crate::error::report;
use crate::state::AppState;
use crate::store::Store;

/// How often expired codes, sessions and tokens are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Deletes expired rows every [`PURGE_INTERVAL`] until `stop`.
pub(crate) async fn purge_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tokio::select! {
            // Only `true` is ever sent; an error means the sender is gone: stop either way.
            _ = stop.changed() => return,
            _ = interval.tick() => {
                match state.store.purge_expired(state.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
                    Err(e) => tracing::warn!(error = %report(&e), "purging expired rows failed"),
                }
                if let Err(e) = crate::throttle::purge(&state.store, state.now()).await {
                    tracing::warn!(error = %report(&e), "purging sign-in counters failed");
                }
            }
        }
    }
}

/// Writes the usage buffer every [`FLUSH_INTERVAL`] until `stop`, then once more.
pub(crate) async fn flush_loop<S: Store>(state: AppState<S>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(FLUSH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = stop.changed() => true,
            _ = interval.tick() => false,
        };
        if let Err(e) = state.credentials.usage.flush(&state.store).await {
            tracing::warn!(error = %report(&e), "writing credential last-used times failed");
        }
        if stopping {
            return;
        }
    }
}
